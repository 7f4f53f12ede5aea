using System.Net;
using System.Text.Json.Nodes;
using LlmAspire.AppHost.Platform;
using LlmAspire.AppHost.Tests.Infrastructure;
using LlmAspire.Hosting;
using LlmAspire.Hosting.ApplicationModel;
using LlmAspire.Hosting.Orchestration;
using LlmAspire.Hosting.Publishing;
using LlmAspire.Hosting.ResourceService;
using Microsoft.Extensions.DependencyInjection;

namespace LlmAspire.AppHost.Tests;

/// <summary>The application model and orchestrator on small resources: environment conventions, waits, restarts, logs.</summary>
public sealed class AppModelTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task References_follow_Aspire_environment_conventions()
    {
        var builder = DistributedApplication.CreateBuilder([]);
        builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://127.0.0.1:4317";
        var cache = builder.AddRedis("cache");
        var database = builder.AddPostgres("postgres").AddDatabase("gatewaydb");
        var modelManager = builder.AddProject<UnbuiltProject>("modelmanager");
        var gateway = builder.AddProject<UnbuiltProject>("gateway").WithReference(cache).WithReference(database).WithReference(modelManager);
        AllocatePorts(builder, firstPort: 20000);

        var environment = await RunEnvironmentAsync(gateway.Resource);

        var cachePassword = ((RedisResource)cache.Resource).Password.Value;
        var postgresPassword = database.Resource.Server.Password.Value;
        Assert.Equal($"127.0.0.1:20000,password={cachePassword}", environment["ConnectionStrings__cache"]);
        Assert.Equal($"Host=127.0.0.1;Port=20001;Username=postgres;Password={postgresPassword};Database=gatewaydb", environment["ConnectionStrings__gatewaydb"]);
        Assert.Equal("http://127.0.0.1:20002", environment["services__modelmanager__http__0"]);
        Assert.Equal("http://127.0.0.1:20003", environment["ASPNETCORE_URLS"]);
        Assert.Equal("gateway", environment["OTEL_SERVICE_NAME"]);
        Assert.Equal("http://127.0.0.1:4317", environment["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        Assert.StartsWith("service.instance.id=gateway-", environment["OTEL_RESOURCE_ATTRIBUTES"], StringComparison.Ordinal);
        Assert.True(cachePassword.Length >= 22 && cachePassword.All(char.IsAsciiLetterOrDigit));
    }

    [Fact]
    public async Task Servers_run_here_listen_on_their_loopback_port_and_published_ones_keep_the_image_defaults()
    {
        var builder = DistributedApplication.CreateBuilder([]);
        var cache = builder.AddRedis("cache");
        var postgres = builder.AddPostgres("postgres");
        AllocatePorts(builder, firstPort: 20000);

        Assert.Equal(["-c", "exec redis-server --requirepass $REDIS_PASSWORD --bind 127.0.0.1 --port 20000"], await RunArgumentsAsync(cache.Resource));
        Assert.Equal(["-c", "listen_addresses=127.0.0.1", "-p", "20001"], await RunArgumentsAsync(postgres.Resource));
        Assert.Equal(["-c", "exec redis-server --requirepass $REDIS_PASSWORD"],
            ResourceValues.Arguments(cache.Resource, DistributedApplicationOperation.Publish).Select(ResourceValues.Expression));
        Assert.Empty(ResourceValues.Arguments(postgres.Resource, DistributedApplicationOperation.Publish));
    }

    [Fact]
    public async Task A_resource_starts_only_once_what_it_waits_for_is_healthy_and_stops_first()
    {
        var builder = DistributedApplication.CreateBuilder([]);
        var healthy = new TaskCompletionSource();
        var first = builder.AddExecutable("first", "sleep", "/", "60")
            .WithHealthCheck("gate", _ => Task.FromResult(healthy.Task.IsCompleted));
        builder.AddExecutable("second", "sleep", "/", "60").WaitFor(first);
        await using var app = builder.Build();
        var notifications = app.ResourceNotifications;
        await app.StartAsync(TestContext.Current.CancellationToken);

        await notifications.WaitForResourceAsync("first", s => s.State == ResourceState.Running, TestContext.Current.CancellationToken).WaitAsync(Timeout, TestContext.Current.CancellationToken);
        await Task.Delay(600, TestContext.Current.CancellationToken);
        Assert.Equal(ResourceState.Waiting, notifications.Get("second").State);

        var released = DateTimeOffset.UtcNow;
        healthy.SetResult();
        await notifications.WaitForResourceHealthyAsync("second", TestContext.Current.CancellationToken).WaitAsync(Timeout, TestContext.Current.CancellationToken);
        Assert.True(notifications.Get("second").StartedAt >= released);

        var pids = ProcessTree.WithDescendants([notifications.Get("first").ProcessId!.Value, notifications.Get("second").ProcessId!.Value]);
        await app.StopAsync(TestContext.Current.CancellationToken);
        Assert.All(pids, pid => Assert.False(ProcessTree.IsRunning(pid), $"process {pid} outlived the application"));
        Assert.Equal(ResourceState.Exited, notifications.Get("second").State);
    }

    [Fact]
    public async Task A_crashed_process_is_restarted_and_its_output_kept()
    {
        var builder = DistributedApplication.CreateBuilder([]);
        builder.AddExecutable("crashing", "sh", "/", "-c", "echo started; echo failing >&2; exit 3");
        await using var app = builder.Build();
        await app.StartAsync(TestContext.Current.CancellationToken);

        var restarted = await app.ResourceNotifications.WaitForResourceAsync("crashing", s => s.Restarts >= 1, TestContext.Current.CancellationToken).WaitAsync(Timeout, TestContext.Current.CancellationToken);
        Assert.Equal(3, restarted.ExitCode);
        await Eventually.TrueAsync(() => Task.FromResult(app.ResourceLogs.GetBacklog("crashing").Count(l => l.Line == "started") >= 2), Timeout,
            "the second run's output");
        Assert.Contains(app.ResourceLogs.GetBacklog("crashing"), l => l is { Stream: "stderr", Line: "failing" });
    }

    [Fact]
    public async Task Resource_service_lists_resources_streams_logs_and_restarts()
    {
        var builder = DistributedApplication.CreateBuilder([]);
        builder.AddExecutable("worker", "sh", "/", "-c", "echo hello from worker; exec sleep 60");
        await using var app = builder.Build();
        await app.StartAsync(TestContext.Current.CancellationToken);
        await app.ResourceNotifications.WaitForResourceHealthyAsync("worker", TestContext.Current.CancellationToken).WaitAsync(Timeout, TestContext.Current.CancellationToken);
        using var client = new HttpClient { BaseAddress = new Uri(app.Services.GetRequiredService<ResourceServiceHost>().Url) };

        var resources = JsonNode.Parse(await client.GetStringAsync("/api/resources", TestContext.Current.CancellationToken))!.AsArray();
        var worker = Assert.Single(resources)!.AsObject();
        Assert.Equal(["name", "type", "state", "health", "endpoints", "startedAt", "restarts", "exitCode", "image"], worker.Select(p => p.Key));
        Assert.Equal("Executable", (string?)worker["type"]);
        Assert.Null(worker["image"]);
        Assert.Equal("running", (string?)worker["state"]);
        Assert.Equal("healthy", (string?)worker["health"]);

        using (var logs = await client.GetAsync("/api/resources/worker/logs", HttpCompletionOption.ResponseHeadersRead, TestContext.Current.CancellationToken))
        {
            Assert.Equal("text/event-stream", logs.Content.Headers.ContentType?.MediaType);
            using var reader = new StreamReader(await logs.Content.ReadAsStreamAsync(TestContext.Current.CancellationToken));
            var line = await reader.ReadLineAsync(TestContext.Current.CancellationToken);
            var logLine = JsonNode.Parse(line!["data: ".Length..])!;
            Assert.Equal("stdout", (string?)logLine["stream"]);
            Assert.Equal("hello from worker", (string?)logLine["line"]);
            Assert.NotNull((string?)logLine["time"]);
        }

        var firstPid = app.ResourceNotifications.Get("worker").ProcessId!.Value;
        using var restart = await client.PostAsync("/api/resources/worker/restart", null, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Accepted, restart.StatusCode);
        var restarted = await app.ResourceNotifications.WaitForResourceAsync("worker", s => s is { Restarts: 1, State: ResourceState.Running },
            TestContext.Current.CancellationToken).WaitAsync(Timeout, TestContext.Current.CancellationToken);
        Assert.NotEqual(firstPid, restarted.ProcessId);
        Assert.False(ProcessTree.IsRunning(firstPid));
        using var unknown = await client.PostAsync("/api/resources/nothing/restart", null, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
    }

    [Fact]
    public async Task A_container_without_Docker_or_local_binary_fails_saying_how_to_get_one()
    {
        var builder = DistributedApplication.CreateBuilder([]);
        builder.AddContainer("thing", "registry.invalid/llmaspire/none", "1");
        await using var app = builder.Build();
        await app.StartAsync(TestContext.Current.CancellationToken);

        await Assert.ThrowsAsync<InvalidOperationException>(() =>
            app.ResourceNotifications.WaitForResourceHealthyAsync("thing", TestContext.Current.CancellationToken).WaitAsync(Timeout, TestContext.Current.CancellationToken));
        Assert.Equal(ResourceState.Failed, app.ResourceNotifications.Get("thing").State);
        Assert.Contains(app.ResourceLogs.GetBacklog("thing"), l => l.Line.Contains("docker pull registry.invalid/llmaspire/none:1", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_dashboard_reaches_the_resource_service_ModelManager_and_the_gateway_and_is_not_published()
    {
        var builder = DistributedApplication.CreateBuilder([]);
        var modelManager = builder.AddProject<UnbuiltProject>("modelmanager");
        var gateway = builder.AddProject<UnbuiltProject>("gateway");
        var token = builder.AddParameter("modelmanager-token", new GenerateParameterDefault(MinLength: 40));
        var adminKey = builder.AddParameter("admin-key", new GenerateParameterDefault(MinLength: 40));
        var dashboard = builder.AddDashboard<UnbuiltProject>("dashboard", modelManager, token, gateway, adminKey);
        AllocatePorts(builder, firstPort: 21000);
        builder.ResourceService.Url = "http://127.0.0.1:20999";

        var environment = await RunEnvironmentAsync(dashboard.Resource);
        Assert.Equal("http://127.0.0.1:20999", environment["Dashboard__ResourceServiceUrl"]);
        Assert.Equal("http://127.0.0.1:21000", environment["services__modelmanager__http__0"]);
        Assert.Equal(token.Resource.Value, environment["Dashboard__ModelManagerToken"]);
        Assert.Equal("http://127.0.0.1:21001", environment["services__gateway__http__0"]);
        Assert.Equal(adminKey.Resource.Value, environment["Dashboard__GatewayAdminKey"]);

        using var manifest = new MemoryStream();
        await using (var writer = new System.Text.Json.Utf8JsonWriter(manifest))
        {
            ManifestPublisher.Write(writer, new DistributedApplicationModel(builder.Resources), "/");
        }

        var resources = JsonNode.Parse(manifest.ToArray())!["resources"]!.AsObject();
        Assert.Equal(["modelmanager", "gateway", "modelmanager-token", "admin-key"], resources.Select(r => r.Key));
    }

    private static void AllocatePorts(IDistributedApplicationBuilder builder, int firstPort)
    {
        foreach (var endpoint in builder.Resources.SelectMany(r => r.Annotations.OfType<EndpointAnnotation>()))
        {
            endpoint.Allocated = new AllocatedEndpoint("127.0.0.1", firstPort++);
        }
    }

    private static async Task<Dictionary<string, string>> RunEnvironmentAsync(IResource resource)
    {
        var environment = new Dictionary<string, string>();
        foreach (var (name, value) in ResourceValues.Environment(resource, DistributedApplicationOperation.Run))
        {
            environment[name] = await ResourceValues.ResolveAsync(value, TestContext.Current.CancellationToken);
        }

        return environment;
    }

    private static async Task<List<string>> RunArgumentsAsync(IResource resource)
    {
        var arguments = new List<string>();
        foreach (var argument in ResourceValues.Arguments(resource, DistributedApplicationOperation.Run))
        {
            arguments.Add(await ResourceValues.ResolveAsync(argument, TestContext.Current.CancellationToken));
        }

        return arguments;
    }

    private sealed class UnbuiltProject : IProjectMetadata
    {
        public string ProjectPath => "/nonexistent/Unbuilt.csproj";

        public string TargetPath => "/nonexistent/Unbuilt.dll";
    }
}
