using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using LlmAspire.Dashboard.Tests.Infrastructure;
using LlmAspire.AppHost.Tests.Infrastructure;
using LlmAspire.Hosting;
using LlmAspire.Hosting.ApplicationModel;
using LlmAspire.Hosting.Testing;
using Microsoft.Playwright;
using Npgsql;

namespace LlmAspire.AppHost.Tests;

/// <summary>
/// Boots the AppHost's own topology (Program.cs) with short timeouts and uses the platform as a client would: through
/// the gateway, a model that ModelManager loads on demand and stops when idle, answers cached in Redis, usage in
/// PostgreSQL; and nothing left running afterwards.
/// </summary>
public sealed class WholeSystemTests(ITestOutputHelper output)
{
    private const string Model = "simulated-llama";
    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(2);

    [Fact]
    public async Task The_platform_serves_a_cold_model_caches_accounts_and_leaves_nothing_behind()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var appHost = await DistributedApplicationTestingBuilder.CreateAsync<Projects.AppHost>(cancellationToken);
        // Its own owner name, so this ModelManager never adopts model servers of another run on this machine.
        appHost.CreateResourceBuilder<ProjectResource>("modelmanager")
            .WithEnvironment("ModelManager__Name", $"apphost-test-{Guid.NewGuid():N}")
            .WithEnvironment($"ModelManager__Models__{Model}__IdleTimeout", "00:00:02")
            .WithEnvironment("ModelManager__IdleCheckInterval", "00:00:00.200");
        appHost.CreateResourceBuilder<ProjectResource>("gateway")
            .WithEnvironment("Gateway__ModelManager__ActivityReportInterval", "00:00:00.500");
        var adminKey = appHost.Resources.OfType<ParameterResource>().Single(p => p.Name == "admin-key").Value;
        var modelManagerToken = appHost.Resources.OfType<ParameterResource>().Single(p => p.Name == "modelmanager-token").Value;

        var app = await appHost.BuildAsync(cancellationToken);
        IReadOnlySet<int> processes;
        await using (app)
        {
            var stopwatch = Stopwatch.StartNew();
            await app.StartAsync(cancellationToken);
            foreach (var resource in app.ResourceNotifications.Snapshots)
            {
                await app.ResourceNotifications.WaitForResourceHealthyAsync(resource.Name, cancellationToken).WaitAsync(StartTimeout, cancellationToken);
            }

            output.WriteLine($"All resources healthy after {stopwatch.Elapsed.TotalSeconds:F1} s");
            using var gateway = app.CreateHttpClient("gateway");
            using var modelManager = app.CreateHttpClient("modelmanager");
            modelManager.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", modelManagerToken);
            Assert.Equal("stopped", await ModelStateAsync(modelManager));

            var key = await CreateKeyAsync(gateway, adminKey);
            var (first, firstCache) = await CompleteAsync(gateway, key);
            Assert.Equal("miss", firstCache);
            Assert.Equal("ready", await ModelStateAsync(modelManager));
            var (second, secondCache) = await CompleteAsync(gateway, key);
            Assert.Equal("hit", secondCache);
            Assert.Equal(first, second);

            var database = await app.GetConnectionStringAsync("gatewaydb", cancellationToken);
            await Eventually.TrueAsync(async () => await UsageRowsAsync(database!) == 2, TimeSpan.FromSeconds(15), "two usage rows in PostgreSQL");
            await LookAtTheDashboardAsync(app);

            await Eventually.TrueAsync(async () => await ModelStateAsync(modelManager) == "stopped", TimeSpan.FromSeconds(20),
                "ModelManager stopping the idle model");

            // Loaded again, so that shutting down has a model server to stop.
            await CompleteAsync(gateway, key, "another prompt");
            processes = ProcessTree.WithDescendants(app.ResourceNotifications.Snapshots.Where(s => s.ProcessId is not null).Select(s => s.ProcessId!.Value));
            Assert.True(processes.Count >= 5, $"expected the servers, services and the model server; found {processes.Count}");
        }

        var left = processes.Where(ProcessTree.IsRunning).ToList();
        Assert.True(left.Count == 0, $"left running after dispose: {string.Join(", ", left)}");
    }

    /// <summary>The dashboard the AppHost started shows every resource healthy and the model ModelManager knows.</summary>
    private async Task LookAtTheDashboardAsync(DistributedApplication app)
    {
        using var dashboard = app.CreateHttpClient("dashboard");
        await using var browser = await Browser.LaunchAsync();
        var page = await browser.OpenAsync(dashboard.BaseAddress!);
        foreach (var resource in app.ResourceNotifications.Snapshots)
        {
            await Assertions.Expect(page.Locator($"[data-resource-health='{resource.Name}']")).ToHaveTextAsync("healthy");
        }

        await SaveScreenshotAsync(page, "apphost-dashboard-resources.png");
        await page.GotoAsync(new Uri(dashboard.BaseAddress!, "/models").ToString());
        await Assertions.Expect(page.Locator($"[data-model-state='{Model}']")).ToHaveTextAsync(new Regex("^(ready|stopping|stopped)$"));
        await SaveScreenshotAsync(page, "apphost-dashboard-models.png");
    }

    private async Task SaveScreenshotAsync(IPage page, string name)
    {
        var path = Path.Combine(TestResults.Directory, name);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
        output.WriteLine($"screenshot: {path}");
    }

    private static async Task<string> ModelStateAsync(HttpClient modelManager)
    {
        var model = await modelManager.GetFromJsonAsync<JsonNode>($"/api/models/{Model}", TestContext.Current.CancellationToken);
        return (string)model!["state"]!;
    }

    private static async Task<string> CreateKeyAsync(HttpClient gateway, string adminKey)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/admin/keys")
        {
            Content = JsonContent.Create(new { name = "whole-system test", tenant = "tests" }),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", adminKey);
        using var response = await gateway.SendAsync(request, TestContext.Current.CancellationToken);
        var body = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.True(response.IsSuccessStatusCode, body);
        return (string)JsonNode.Parse(body)!["key"]!;
    }

    private static async Task<(string Content, string? Cache)> CompleteAsync(HttpClient gateway, string key, string prompt = "Hello")
    {
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

    private static async Task<long> UsageRowsAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString + ";Pooling=false");
        await connection.OpenAsync(TestContext.Current.CancellationToken);
        await using var command = new NpgsqlCommand("SELECT count(*) FROM usage_ledger WHERE model = @model", connection);
        command.Parameters.AddWithValue("model", Model);
        return Convert.ToInt64(await command.ExecuteScalarAsync(TestContext.Current.CancellationToken), CultureInfo.InvariantCulture);
    }
}
