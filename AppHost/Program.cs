using LlmAspire.AppHost;
using LlmAspire.AppHost.Gateway;
using LlmAspire.AppHost.Models;
using LlmAspire.AppHost.Servers;

var builder = DistributedApplication.CreateBuilder(new DistributedApplicationOptions { Args = args, DashboardApplicationName = "LlmAspire" });

// Generated on first run and kept in the AppHost's user secrets, outside the repository.
var adminKey = builder.AddParameter("admin-key", new GenerateParameterDefault { MinLength = 40, Special = false }, secret: true, persist: true);
var modelManagerToken = builder.AddParameter("modelmanager-token", new GenerateParameterDefault { MinLength = 40, Special = false }, secret: true, persist: true);

// Aspire's containers where they can run; the machine's own redis-server and PostgreSQL where they cannot.
var servers = PlatformServers.Choose(builder);
var cache = servers.AddRedis("cache");
var gatewayDb = servers.AddPostgresDatabase("postgres", "gatewaydb");

const string model = "simulated-llama";
var modelManager = builder.AddModelManager<Projects.ModelManager>("modelmanager", modelManagerToken)
    .WithReference(gatewayDb)
    .WaitFor(gatewayDb)
    // Its model servers' state files, so that a restarted ModelManager adopts them.
    .WithEnvironmentWhenRunning("ModelManager__Process__StateDirectory", servers.DataPath("modelmanager"))
    // Lifecycle events waiting for PostgreSQL, written to this platform's own database once it is back.
    .WithEnvironmentWhenRunning("ModelManager__LifecycleEvents__SpoolDirectory", servers.DataPath("modelmanager-event-spool"))
    // Machines without a GPU serve a simulated model; add vLLM models with WithModel(id, settings).
    .WithSimulatedModel(model);

builder.AddProject<Projects.Gateway_Api>("gateway")
    .WithHttpEndpoint()
    .WithExternalHttpEndpoints()
    .WithReference(cache)
    .WithReference(gatewayDb)
    .WithReference(modelManager)
    .WaitFor(cache)
    .WaitFor(gatewayDb)
    .WaitFor(modelManager)
    // Hot methods are compiled to their final tier as soon as they have run enough, instead of after the runtime's
    // 100 ms pause in new compilations, which a busy new replica never gives it: with the start-up warm-up, a fresh
    // gateway serves its first seconds near its steady rate (docs/performance.md).
    .WithEnvironment("DOTNET_TC_CallCountingDelayMs", "0")
    .WithEnvironment("Gateway__Auth__AdminKey", adminKey)
    .WithEnvironment("Gateway__ModelManager__ApiToken", modelManagerToken)
    // Usage rows waiting for PostgreSQL: this platform's own, never replayed into another one's database.
    .WithEnvironmentWhenRunning("Gateway__Ledger__SpoolDirectory", servers.DataPath("gateway-ledger-spool"))
    .WithHttpHealthCheck("/health")
    .WithLocalTelemetryExport()
    .WithCreateApiKeyCommand(adminKey)
    .WithDeveloperWelcome(adminKey, servers.DataPath("developer-api-key"), model);

builder.Build().Run();
