using LlmAspire.AppHost.Platform;
using LlmAspire.Hosting;
using LlmAspire.Hosting.ApplicationModel;

var builder = DistributedApplication.CreateBuilder(args);

// Generated once per machine and kept in user secrets, outside the repository.
var adminKey = builder.AddParameter("admin-key", new GenerateParameterDefault(MinLength: 40));
var modelManagerToken = builder.AddParameter("modelmanager-token", new GenerateParameterDefault(MinLength: 40));

var cache = builder.AddRedis("cache");
var gatewayDb = builder.AddPostgres("postgres").AddDatabase("gatewaydb");

var modelManager = builder.AddProject<Projects.ModelManager>("modelmanager")
    .WithEnvironment("ModelManager__ApiToken", modelManagerToken)
    .WithEnvironment("ModelManager__StopModelsOnShutdown", "true")
    // Machines without a GPU serve a simulated model; add vLLM entries with ModelManager__Models__<id>__… settings.
    .WithSimulatedModel<Projects.VllmSimulator>(SimulatedModels.DefaultModel)
    .WithReference(gatewayDb)
    .WaitFor(gatewayDb)
    .WithHttpHealthCheck("/health");

var gateway = builder.AddProject<Projects.Gateway_Api>("gateway")
    .WithExternalHttpEndpoints()
    .WithReference(cache)
    .WithReference(gatewayDb)
    .WithReference(modelManager)
    .WithEnvironment("Gateway__Auth__AdminKey", adminKey)
    .WithEnvironment("Gateway__ModelManager__ApiToken", modelManagerToken)
    .WaitFor(cache)
    .WaitFor(gatewayDb)
    .WaitFor(modelManager)
    .WithHttpHealthCheck("/health")
    .WithDeveloperWelcome(adminKey, SimulatedModels.DefaultModel);

builder.AddDashboard<Projects.Dashboard>("dashboard", modelManager, modelManagerToken, gateway, adminKey);

builder.Build().Run();
