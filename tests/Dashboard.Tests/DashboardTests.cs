using System.Net.Http.Json;
using System.Text.RegularExpressions;
using LlmAspire.Dashboard.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace LlmAspire.Dashboard.Tests;

/// <summary>The dashboard in headless Chromium against a resource service, a real ModelManager and a real gateway.</summary>
public sealed partial class DashboardTests(DashboardPlatform platform) : IClassFixture<DashboardPlatform>
{
    private static readonly LocatorAssertionsToHaveTextOptions LongWait = new() { Timeout = 60_000 };

    [Fact]
    public async Task Resources_page_lists_every_resource_with_type_state_health_and_restarts_and_restarts_one()
    {
        var page = await platform.Browser.OpenAsync(platform.Dashboard);

        foreach (var resource in DashboardPlatform.Resources)
        {
            await Expect(page.Locator($"[data-resource='{resource.Name}']")).ToHaveTextAsync(resource.Name);
            await Expect(page.Locator($"[data-resource-state='{resource.Name}']")).ToHaveTextAsync(resource.State);
            await Expect(page.Locator($"[data-resource-health='{resource.Name}']")).ToHaveTextAsync(resource.Health!);
            await Expect(page.Locator($"[data-resource-restarts='{resource.Name}']")).ToHaveTextAsync(resource.Restarts.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        await Expect(page.GetByText("exit code 3")).ToBeVisibleAsync();
        await Expect(page.Locator("a.endpoint[href='http://127.0.0.1:8080']")).ToBeVisibleAsync();

        await page.Locator("[data-restart='gateway']").ClickAsync();
        await Expect(page.Locator("[data-resource-restarts='gateway']")).ToHaveTextAsync("2");
        Assert.Equal(2, platform.ResourceService.Restarts("gateway"));
        await SaveScreenshotAsync(page, "dashboard-resources.png");
    }

    [Fact]
    public async Task A_line_a_resource_prints_appears_in_its_console_logs_without_reload()
    {
        var page = await platform.Browser.OpenAsync(platform.Dashboard);
        await page.Locator("[data-logs-of='gateway']").ClickAsync();
        var log = page.Locator("[data-log-for='gateway']");
        await Expect(log).ToContainTextAsync("gateway listening");

        var line = $"served request {Guid.NewGuid():N}";
        platform.ResourceService.Print("gateway", line, "stderr");
        await Expect(log.Locator(".log-stderr")).ToContainTextAsync(line);
        Assert.Matches(ConsoleLogsPath(), page.Url);
    }

    [Fact]
    public async Task Start_brings_a_model_to_ready_with_an_idle_countdown_and_stop_brings_it_to_stopped()
    {
        var page = await platform.Browser.OpenAsync(new Uri(platform.Dashboard, "models"));
        var state = page.Locator($"[data-model-state='{DashboardPlatform.Model}']");
        await Expect(state).ToHaveTextAsync("stopped");

        await page.Locator($"[data-start='{DashboardPlatform.Model}']").ClickAsync();
        await Expect(state).ToHaveTextAsync("ready", LongWait);
        await Expect(page.Locator($"[data-model-idle='{DashboardPlatform.Model}']")).ToHaveTextAsync(IdleCountdown());
        await Expect(page.Locator($"[data-model-queued='{DashboardPlatform.Model}']")).ToHaveTextAsync("0");
        await SaveScreenshotAsync(page, "dashboard.png");

        await page.Locator($"[data-stop='{DashboardPlatform.Model}']").ClickAsync();
        await Expect(state).ToHaveTextAsync("stopped", LongWait);
    }

    [Fact]
    public async Task Gateway_page_shows_the_gateways_live_figures()
    {
        using var client = new HttpClient { BaseAddress = platform.Gateway };
        using var answer = await client.PostAsJsonAsync("/v1/chat/completions",
            new { model = DashboardPlatform.Model, messages = new[] { new { role = "user", content = "Hello" } } }, TestContext.Current.CancellationToken);
        answer.EnsureSuccessStatusCode();

        var page = await platform.Browser.OpenAsync(new Uri(platform.Dashboard, "gateway"));
        await Expect(page.Locator(".totals")).ToContainTextAsync(RequestsSinceStart());
        await Expect(page.Locator("[data-figure='cache-hit-rate'] .figure-value")).ToHaveTextAsync("0%");
        await Expect(page.Locator("[data-figure='too-many-requests'] .figure-value")).ToHaveTextAsync("0");
        await SaveScreenshotAsync(page, "dashboard-gateway.png");
    }

    [Fact]
    public async Task Without_configuration_every_page_says_what_to_configure()
    {
        var unconfigured = await platform.StartDashboardAsync();
        foreach (var (path, setting) in new[]
        {
            ("", "Dashboard:ResourceServiceUrl"),
            ("consolelogs", "Dashboard:ResourceServiceUrl"),
            ("models", "services__modelmanager__http__0"),
            ("gateway", "services__gateway__http__0"),
        })
        {
            var page = await platform.Browser.OpenAsync(new Uri(unconfigured, path));
            await Expect(page.Locator("[data-source-state='notconfigured']")).ToContainTextAsync(setting);
            await page.CloseAsync();
        }
    }

    [Fact]
    public async Task A_source_that_does_not_answer_is_shown_as_unreachable()
    {
        // Port 1 on loopback: nothing listens there, so the connection is refused at once.
        var dashboard = await platform.StartDashboardAsync(
            "--Dashboard:ResourceServiceUrl", "http://127.0.0.1:1/", "--services:modelmanager:http:0", "http://127.0.0.1:1/",
            "--Dashboard:ModelManagerToken", "token");
        foreach (var path in new[] { "", "models" })
        {
            var page = await platform.Browser.OpenAsync(new Uri(dashboard, path));
            await Expect(page.Locator("[data-source-state='unreachable']")).ToContainTextAsync("127.0.0.1:1");
            await page.CloseAsync();
        }
    }

    private static async Task SaveScreenshotAsync(IPage page, string name)
    {
        var path = Path.Combine(TestResults.Directory, name);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
        TestContext.Current.TestOutputHelper?.WriteLine($"screenshot: {path}");
    }

    [GeneratedRegex("/consolelogs/gateway$")]
    private static partial Regex ConsoleLogsPath();

    /// <summary>Ten minutes idle timeout, counting down: 9:59, 9:58 … (10:00 for the first moment).</summary>
    [GeneratedRegex(@"^(10:00|9:[0-5]\d)$")]
    private static partial Regex IdleCountdown();

    [GeneratedRegex(@"Since start: [1-9]\d* requests")]
    private static partial Regex RequestsSinceStart();
}
