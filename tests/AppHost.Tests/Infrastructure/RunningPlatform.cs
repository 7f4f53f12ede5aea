using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmAspire.TestToolkit.Servers.Processes;
using Microsoft.Extensions.DependencyInjection;

namespace LlmAspire.AppHost.Tests.Infrastructure;

/// <summary>
/// The AppHost's own Program.cs booted through Aspire.Hosting.Testing with the dashboard, on local Redis and
/// PostgreSQL processes whose data lives in a test's <see cref="DataFolder"/>, with short timeouts for the simulated
/// model; disposing it stops everything it started.
/// </summary>
internal sealed class RunningPlatform : IAsyncDisposable
{
    public const string Model = "simulated-llama";
    public static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(3);
    private static readonly string[] Servers = ["cache", "postgres", "gatewaydb", "modelmanager", "gateway"];

    private RunningPlatform(DistributedApplication app) => App = app;

    public DistributedApplication App { get; }

    public ResourceNotificationService Notifications => App.ResourceNotifications;

    public static async Task<RunningPlatform> StartAsync(
        DataFolder data, ITestOutputHelper output, TimeSpan modelSleepAfter, TimeSpan modelStopAfter, params string[] arguments)
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var stopwatch = Stopwatch.StartNew();
        var appHost = await DistributedApplicationTestingBuilder.CreateAsync<Projects.AppHost>(
            new DistributedApplicationTestingBuilderOptions { EnableDashboard = true },
            ["LlmAspire:ServerHosting=LocalProcesses", $"LlmAspire:DataDirectory={data.Path}", .. arguments],
            cancellationToken);
        appHost.CreateResourceBuilder<ProjectResource>("modelmanager")
            // Its own owner name: this ModelManager never adopts model servers of another run on this machine.
            .WithEnvironment("ModelManager__Name", "apphost-test-" + Guid.NewGuid().ToString("N"))
            .WithEnvironment($"ModelManager__Models__{Model}__SleepAfter", modelSleepAfter.ToString("c", CultureInfo.InvariantCulture))
            .WithEnvironment($"ModelManager__Models__{Model}__StopAfter", modelStopAfter.ToString("c", CultureInfo.InvariantCulture))
            .WithEnvironment("ModelManager__IdleCheckInterval", "00:00:00.200");
        appHost.CreateResourceBuilder<ProjectResource>("gateway")
            .WithEnvironment("Gateway__ModelManager__ActivityReportInterval", "00:00:00.500");

        var app = await appHost.BuildAsync(cancellationToken);
        var platform = new RunningPlatform(app);
        try
        {
            await app.StartAsync(cancellationToken).WaitAsync(StartTimeout, cancellationToken);
            foreach (var server in Servers)
            {
                await platform.Notifications.WaitForResourceHealthyAsync(server, cancellationToken).WaitAsync(StartTimeout, cancellationToken);
            }
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }

        output.WriteLine($"All resources healthy {stopwatch.Elapsed.TotalSeconds:F1} s after the testing builder was created");
        return platform;
    }

    /// <summary>The resource's snapshot once it satisfies <paramref name="predicate"/>.</summary>
    public async Task<CustomResourceSnapshot> WaitForAsync(string resource, Func<CustomResourceSnapshot, bool> predicate, TimeSpan timeout) =>
        (await Notifications.WaitForResourceAsync(resource, e => predicate(e.Snapshot), TestContext.Current.CancellationToken)
            .WaitAsync(timeout, TestContext.Current.CancellationToken)).Snapshot;

    public Task<ExecuteCommandResult> ExecuteCommandAsync(string resource, string command) =>
        App.Services.GetRequiredService<ResourceCommandService>().ExecuteCommandAsync(resource, command, TestContext.Current.CancellationToken);

    /// <summary>A chat completion with <paramref name="key"/>: the answer's text and the gateway's <c>x-cache</c> header.</summary>
    public async Task<(string Content, string? Cache)> CompleteAsync(string key, string prompt = "Hello")
    {
        using var gateway = App.CreateHttpClient("gateway");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = JsonContent.Create(new { model = Model, temperature = 0, messages = new[] { new { role = "user", content = prompt } } }),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        using var response = await gateway.SendAsync(request, TestContext.Current.CancellationToken);
        var body = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.True(response.IsSuccessStatusCode, body);
        var content = (string)JsonNode.Parse(body)!["choices"]![0]!["message"]!["content"]!;
        return (content, response.Headers.TryGetValues("x-cache", out var values) ? values.Single() : null);
    }

    /// <summary>
    /// The processes of every resource that runs one (the servers and services for certain; helpers Aspire adds, such
    /// as a project's rebuilder, only while they run), with all they started: model servers included.
    /// </summary>
    public async Task<IReadOnlySet<int>> ProcessesAsync()
    {
        var pids = new List<int>();
        foreach (var resource in App.Services.GetRequiredService<DistributedApplicationModel>().Resources.OfType<IResourceWithEndpoints>())
        {
            var snapshot = await WaitForAsync(resource.Name, _ => true, TimeSpan.FromSeconds(10));
            var pid = Pid(snapshot);
            Assert.True(pid is not null || !Servers.Contains(resource.Name), $"{resource.Name} runs no process");
            if (pid is not null)
            {
                pids.Add(pid.Value);
            }
        }

        return ProcessTree.WithDescendants(pids);
    }

    public ValueTask DisposeAsync() => App.DisposeAsync();

    private static int? Pid(CustomResourceSnapshot snapshot) =>
        snapshot.Properties.FirstOrDefault(p => p.Name == "executable.pid")?.Value is { } value
        && int.TryParse(value.ToString(), CultureInfo.InvariantCulture, out var pid) ? pid : null;
}
