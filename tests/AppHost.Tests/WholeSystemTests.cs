using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text.RegularExpressions;
using LlmAspire.AppHost.Tests.Infrastructure;
using LlmAspire.TestToolkit.Servers.Processes;
using Microsoft.Playwright;
using Npgsql;

namespace LlmAspire.AppHost.Tests;

/// <summary>
/// The platform as Program.cs declares it, used as a developer would: through the gateway, a model ModelManager loads
/// on demand and stops when idle (followed live by its dashboard resource), answers cached in Redis, usage in
/// PostgreSQL, the dashboard's commands and pages; nothing left running afterwards, and a second run on the same
/// data folder still knows the first run's key and usage.
/// </summary>
public sealed class WholeSystemTests(ITestOutputHelper output)
{
    private const string Model = RunningPlatform.Model;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    // Long enough to look at the loaded model in the dashboard, short enough to watch it fall asleep and stop.
    private static readonly TimeSpan SleepAfter = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan StopAfter = TimeSpan.FromSeconds(19);

    [Fact]
    public async Task The_platform_serves_accounts_shows_its_models_and_keeps_its_data_across_runs()
    {
        using var data = new DataFolder();
        string developerKey;
        IReadOnlySet<int> processes;
        string? readyEndpoint;
        string firstAnswer;
        await using (var platform = await RunningPlatform.StartAsync(data, output, modelSleepAfter: SleepAfter, modelStopAfter: StopAfter))
        {
            await platform.WaitForAsync(Model, s => s.State?.Text == "Unloaded", Timeout);

            var created = await platform.ExecuteCommandAsync("gateway", "create-api-key");
            Assert.True(created.Success, created.Message);
            var key = created.Data!.Value;
            Assert.Matches("^llma_[a-z0-9]{12}_[A-Za-z0-9]{40}$", key);

            // The dashboard is opened while the model is unloaded, so that a slow browser start cannot outlast the
            // time the model stays ready before it falls asleep.
            await using (var browser = await Browser.LaunchAsync())
            {
                var page = await OpenDashboardAsync(platform, browser);
                var loading = platform.WaitForAsync(Model, s => s.State?.Text == "Loading", Timeout);
                var idleCountdown = platform.WaitForAsync(Model,
                    s => s.State?.Text == "Ready" && Property(s, "model.in-flight") == "0" && Property(s, "model.idle-stop-in") is { Length: > 0 }, Timeout);
                var (first, firstCache) = await platform.CompleteAsync(key);
                Assert.Equal("miss", firstCache);
                await loading;
                var ready = await idleCountdown;
                Assert.Equal("process", Property(ready, "model.runtime"));
                Assert.NotEqual("", Property(ready, "model.last-cold-start"));
                readyEndpoint = Property(ready, "model.endpoint");
                firstAnswer = first;

                await LookAtTheDashboardAsync(page);
            }

            var (second, secondCache) = await platform.CompleteAsync(key);
            Assert.Equal("hit", secondCache);
            Assert.Equal(firstAnswer, second);
            var database = (await platform.App.GetConnectionStringAsync("gatewaydb", TestContext.Current.CancellationToken))!;
            await Eventually.HoldsAsync(async () => await UsageRowsAsync(database) == 2, "two usage rows in PostgreSQL", Timeout);

            // Idle for SleepAfter: ModelManager puts it to sleep, and Load wakes the same server.
            var asleep = await platform.WaitForAsync(Model, s => s.State?.Text == "Sleeping", Timeout);
            var wake = await platform.ExecuteCommandAsync(Model, "load");
            Assert.True(wake.Success, wake.Message);
            var woken = await platform.WaitForAsync(Model, s => s.State?.Text == "Ready", Timeout);
            Assert.Equal("", Property(asleep, "model.endpoint"));
            Assert.Equal(readyEndpoint, Property(woken, "model.endpoint"));

            // Idle for StopAfter: ModelManager stops it, and the dashboard follows.
            await platform.WaitForAsync(Model, s => s.State?.Text == "Unloaded", Timeout);

            var load = await platform.ExecuteCommandAsync(Model, "load");
            Assert.True(load.Success, load.Message);
            await platform.WaitForAsync(Model, s => s.State?.Text == "Ready", Timeout);
            var unload = await platform.ExecuteCommandAsync(Model, "unload");
            Assert.True(unload.Success, unload.Message);
            await platform.WaitForAsync(Model, s => s.State?.Text == "Unloaded", Timeout);

            developerKey = (await File.ReadAllTextAsync(Path.Combine(data.Path, "developer-api-key"), TestContext.Current.CancellationToken)).Trim();
            // Loaded again, so that stopping the platform has a model server to stop.
            await platform.CompleteAsync(developerKey, "another prompt");
            processes = await platform.ProcessesAsync();
            Assert.True(processes.Count >= 6, $"expected Redis, PostgreSQL, both services, the dashboard and the model server; found {processes.Count}");
            var stopping = Stopwatch.StartNew();
            await platform.DisposeAsync();
            output.WriteLine($"Stopped in {stopping.Elapsed.TotalSeconds:F1} s");
        }

        var left = processes.Where(ProcessTree.IsRunning).ToList();
        Assert.True(left.Count == 0, $"left running after the platform stopped: {string.Join(", ", left)}");

        // Again on the same data folder, with the PostgreSQL password changed as if the AppHost's secrets had been reset.
        await using (var platform = await RunningPlatform.StartAsync(data, output, modelSleepAfter: SleepAfter, modelStopAfter: StopAfter,
                         $"Parameters:postgres-password=Changed{Guid.NewGuid():N}"))
        {
            Assert.Equal(developerKey, (await File.ReadAllTextAsync(Path.Combine(data.Path, "developer-api-key"), TestContext.Current.CancellationToken)).Trim());
            await platform.CompleteAsync(developerKey, "a third prompt");
            var database = (await platform.App.GetConnectionStringAsync("gatewaydb", TestContext.Current.CancellationToken))!;
            await Eventually.HoldsAsync(async () => await UsageRowsAsync(database) == 4, "the first run's three usage rows and this one", Timeout);
        }
    }

    /// <summary>
    /// The Aspire dashboard the AppHost runs, showing the model's row. The page lists no resources until its watch of
    /// the AppHost's resource service is up; on a slow start that watch can miss the first snapshot, and a reload asks again.
    /// </summary>
    private static async Task<IPage> OpenDashboardAsync(RunningPlatform platform, Browser browser)
    {
        var page = await browser.OpenAsync(await platform.App.GetDashboardUrlAsync(TestContext.Current.CancellationToken));
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await Assertions.Expect(ModelRow(page)).ToBeVisibleAsync(new LocatorAssertionsToBeVisibleOptions { Timeout = 20_000 });
                return page;
            }
            catch (PlaywrightException) when (attempt < 3)
            {
                await page.ReloadAsync();
            }
        }
    }

    /// <summary>The loaded model beneath ModelManager with its figures in its details, and the gateway's own metrics.</summary>
    private async Task LookAtTheDashboardAsync(IPage page)
    {
        var model = ModelRow(page);
        await Assertions.Expect(model).ToContainTextAsync("Ready");
        await SaveScreenshotAsync(page, "apphost-dashboard-resources.png");

        await model.GetByText(Model, new LocatorGetByTextOptions { Exact = true }).ClickAsync();
        var countdown = page.GetByRole(AriaRole.Row).Filter(new LocatorFilterOptions { HasText = "Idle stop in" });
        await Assertions.Expect(countdown).ToContainTextAsync(new Regex("0:[01][0-9]"));
        await Assertions.Expect(page.GetByRole(AriaRole.Row).Filter(new LocatorFilterOptions { HasText = "Last cold start" })).ToContainTextAsync(new Regex("[0-9.]+ s"));
        await SaveScreenshotAsync(page, "apphost-dashboard-model.png");

        await page.GotoAsync(new Uri(new Uri(page.Url), "/metrics/resource/gateway").ToString());
        await Assertions.Expect(page.GetByText(new Regex("llmaspire\\.gateway\\.requests\\.admitted")).First).ToBeVisibleAsync();
        await SaveScreenshotAsync(page, "apphost-dashboard-gateway-metrics.png");
    }

    /// <summary>The resource grid names the model's row after its type and name.</summary>
    private static ILocator ModelRow(IPage page) => page.GetByRole(AriaRole.Row, new PageGetByRoleOptions { NameRegex = new Regex($"^Model: {Model} ") });

    private async Task SaveScreenshotAsync(IPage page, string name)
    {
        var path = Path.Combine(TestResults.Directory, name);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
        output.WriteLine($"screenshot: {path}");
    }

    private static string? Property(CustomResourceSnapshot snapshot, string name) =>
        snapshot.Properties.FirstOrDefault(p => p.Name == name)?.Value?.ToString();

    private static async Task<long> UsageRowsAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString + ";Pooling=false");
        await connection.OpenAsync(TestContext.Current.CancellationToken);
        await using var command = new NpgsqlCommand("SELECT count(*) FROM usage_ledger WHERE model = @model", connection);
        command.Parameters.AddWithValue("model", Model);
        return Convert.ToInt64(await command.ExecuteScalarAsync(TestContext.Current.CancellationToken), CultureInfo.InvariantCulture);
    }
}
