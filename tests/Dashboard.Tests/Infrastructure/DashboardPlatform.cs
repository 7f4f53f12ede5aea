using System.Diagnostics;
using System.Text.Json;
using LlmAspire.Dashboard.Resources;
using LlmAspire.Gateway;
using LlmAspire.ModelManager;
using LlmAspire.VllmSimulator;

namespace LlmAspire.Dashboard.Tests.Infrastructure;

/// <summary>
/// The real dashboard on a free loopback port, wired as the AppHost would wire it to a fake resource service, a real
/// ModelManager (process runtime running the simulator) and a real gateway in front of an in-process simulator.
/// Started once for the test class, with the browser that looks at it.
/// </summary>
public sealed class DashboardPlatform : IAsyncLifetime
{
    public const string Model = "sim";
    public const string ModelManagerToken = "dashboard-test-token";
    public const string GatewayAdminKey = "dashboard-test-admin-key-0123456789";

    public static readonly ResourceSnapshot[] Resources =
    [
        new("cache", "container", "running", "healthy", [new("tcp", "tcp://127.0.0.1:6379")], DateTimeOffset.UtcNow, 0, null),
        new("gateway", "project", "running", "healthy", [new("http", "http://127.0.0.1:8080")], DateTimeOffset.UtcNow, 1, null),
        new("migrator", "executable", "exited", "unknown", [], DateTimeOffset.UtcNow, 0, 3),
        new("modelmanager", "project", "starting", "unhealthy", [], null, 0, null),
    ];

    private readonly DirectoryInfo stateDirectory = Directory.CreateTempSubdirectory("llmaspire-dashboard-mm-");
    private readonly List<WebApplication> apps = [];

    public FakeResourceService ResourceService { get; private set; } = null!;

    public Uri Dashboard { get; private set; } = null!;

    public Uri Gateway { get; private set; } = null!;

    public Browser Browser { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        ResourceService = await FakeResourceService.StartAsync(Resources);
        ResourceService.Print("gateway", "gateway listening");

        var modelManager = await StartAsync(ModelManagerApplication.Create(
        [
            "--ModelManager:ApiToken", ModelManagerToken,
            "--ModelManager:Name", $"dashboard-test-{Guid.NewGuid():N}"[..24],
            "--ModelManager:Process:StateDirectory", stateDirectory.FullName,
            "--ModelManager:StopModelsOnShutdown", "true",
            "--ModelManager:ReadinessPollInterval", "00:00:00.050",
            .. CatalogEntry(),
            .. Quiet,
        ]));

        var simulator = await StartAsync(SimulatorApplication.Build(["--model", Model, "--output-tokens", "8", .. Quiet]));
        Gateway = await StartAsync(GatewayApplication.Create(
        [
            "--Gateway:Auth:Enabled", "false",
            "--Gateway:Auth:AdminKey", GatewayAdminKey,
            $"--Gateway:Models:{Model}:Endpoint", simulator.ToString(),
            .. Quiet,
        ]));

        Dashboard = await StartAsync(DashboardApplication.Create(
        [
            "--Dashboard:ResourceServiceUrl", ResourceService.BaseAddress.ToString(),
            "--Dashboard:ModelManagerToken", ModelManagerToken,
            "--Dashboard:GatewayAdminKey", GatewayAdminKey,
            "--Dashboard:RefreshInterval", "00:00:00.300",
            "--services:modelmanager:http:0", modelManager.ToString(),
            "--services:gateway:http:0", Gateway.ToString(),
            .. Quiet,
        ]));
        Browser = await Browser.LaunchAsync();
    }

    /// <summary>Another dashboard with only <paramref name="settings"/> (<c>--key value</c> pairs), e.g. none at all.</summary>
    public Task<Uri> StartDashboardAsync(params string[] settings) => StartAsync(DashboardApplication.Create([.. settings, .. Quiet]));

    private static string[] Quiet => ["--urls", "http://127.0.0.1:0", "--Logging:LogLevel:Default", "Warning"];

    /// <summary>The catalog entry of <see cref="Model"/>: the simulator copied next to the tests, run with <c>dotnet</c>.</summary>
    private static IEnumerable<string> CatalogEntry()
    {
        var prefix = $"--ModelManager:Models:{Model}:";
        string[] settings =
        [
            prefix + "Runtime", "Process",
            prefix + "Command", "dotnet",
            prefix + "WorkingDirectory", AppContext.BaseDirectory,
            prefix + "IdleTimeout", "00:10:00",
            prefix + "StartupTimeout", "00:01:00",
            prefix + "StopTimeout", "00:00:05",
        ];
        string[] args = ["VllmSimulator.dll", "--urls", "http://127.0.0.1:{port}", "--model", "{model}", "--startup-delay-ms", "500"];
        return settings.Concat(args.SelectMany((argument, index) => new[] { $"{prefix}Args:{index}", argument }));
    }

    private async Task<Uri> StartAsync(WebApplication app)
    {
        apps.Add(app);
        await app.StartAsync(TestContext.Current.CancellationToken);
        return new Uri(app.Urls.First());
    }

    public async ValueTask DisposeAsync()
    {
        await Browser.DisposeAsync();
        // Dashboard first, ModelManager (which stops its model servers) after the pages that watch it.
        foreach (var app in Enumerable.Reverse(apps))
        {
            await app.StopAsync(CancellationToken.None);
            await app.DisposeAsync();
        }

        await ResourceService.DisposeAsync();
        EndLeftoverServers();
        stateDirectory.Delete(recursive: true);
    }

    /// <summary>Safety net for a failed test: a model server still recorded in the state directory is ended by its pid.</summary>
    private void EndLeftoverServers()
    {
        foreach (var stateFile in stateDirectory.EnumerateFiles("*.json"))
        {
            using var state = JsonDocument.Parse(File.ReadAllText(stateFile.FullName));
            var pid = state.RootElement.GetProperty("pid").GetInt32();
            // Only if the pid still names a simulator: a pid freed by a server that ended may have been reused.
            if (File.Exists($"/proc/{pid}/cmdline") && File.ReadAllText($"/proc/{pid}/cmdline").Contains("VllmSimulator.dll", StringComparison.Ordinal))
            {
                using var process = Process.GetProcessById(pid);
                process.Kill(entireProcessTree: true);
            }
        }
    }
}
