using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;

namespace LlmAspire.ModelManager.Tests.Infrastructure;

/// <summary>ModelManager hosted in the test process on a free loopback port, with a client that carries its token.</summary>
public sealed class ModelManagerHost : IAsyncDisposable
{
    public const string Token = "test-token";
    private readonly WebApplication app;

    private ModelManagerHost(WebApplication app)
    {
        this.app = app;
        Client = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = new Uri(app.Urls.First()), Timeout = TimeSpan.FromMinutes(5) };
        Client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token);
    }

    public HttpClient Client { get; }

    public IServiceProvider Services => app.Services;

    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    /// <summary>Starts ModelManager with <paramref name="settings"/> (configuration key → value) on top of test defaults.</summary>
    public static async Task<ModelManagerHost> StartAsync(IEnumerable<KeyValuePair<string, string>> settings, Action<IServiceCollection>? configureServices = null)
    {
        var defaults = new Dictionary<string, string>
        {
            ["Logging:LogLevel:Default"] = "Warning",
            ["ModelManager:ApiToken"] = Token,
            ["ModelManager:IdleCheckInterval"] = "00:00:00.100",
            ["ModelManager:ReadinessPollInterval"] = "00:00:00.050",
            ["ModelManager:FailureBackoff"] = "00:00:00.100",
            ["ModelManager:MaxFailureBackoff"] = "00:00:01",
            ["ModelManager:StopModelsOnShutdown"] = "true",
        };
        foreach (var (key, value) in settings)
        {
            defaults[key] = value;
        }

        string[] args = ["--urls", "http://127.0.0.1:0", .. defaults.SelectMany(entry => new[] { $"--{entry.Key}", entry.Value })];
        var app = ModelManagerApplication.Create(args, configureServices);
        await app.StartAsync(Cancellation);
        return new ModelManagerHost(app);
    }

    public async Task<JsonNode> EnsureAsync(string model, HttpStatusCode expected = HttpStatusCode.OK)
    {
        using var response = await Client.PostAsync($"/api/models/{Uri.EscapeDataString(model)}/ensure", null, Cancellation);
        var body = await response.Content.ReadAsStringAsync(Cancellation);
        Assert.True(response.StatusCode == expected, $"ensure {model}: expected {expected}, got {(int)response.StatusCode}: {body}");
        return JsonNode.Parse(body)!;
    }

    public async Task<JsonNode> GetAsync(string model) =>
        JsonNode.Parse(await Client.GetStringAsync($"/api/models/{Uri.EscapeDataString(model)}", Cancellation))!;

    public async Task<string?> StateAsync(string model) => (string?)(await GetAsync(model))["state"];

    public async Task<List<string>> EventsAsync(string model)
    {
        var events = JsonNode.Parse(await Client.GetStringAsync($"/api/events?model={Uri.EscapeDataString(model)}&limit=1000", Cancellation))!;
        return [.. events["events"]!.AsArray().Select(e => (string)e!["event"]!)];
    }

    /// <summary>Reports activity as a gateway replica would.</summary>
    public async Task ReportAsync(string replica, string model, int inFlight, double idleSeconds, int queued = 0)
    {
        using var response = await Client.PostAsJsonAsync(
            "/api/activity", new { replica, models = new Dictionary<string, object> { [model] = new { inFlight, idleSeconds, queued } } }, Cancellation);
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
    }

    /// <summary>
    /// A gateway in front of this ModelManager, hosted in the test process on a free loopback port, with authentication
    /// off and <paramref name="settings"/> (<c>--key value</c> pairs) on top; the caller stops and disposes it.
    /// </summary>
    public async Task<WebApplication> StartGatewayAsync(params string[] settings)
    {
        var gateway = Gateway.Api.GatewayApplication.Create(
        [
            "--urls", "http://127.0.0.1:0",
            "--Logging:LogLevel:Default", "Warning",
            "--Gateway:Auth:Enabled", "false",
            "--services:modelmanager:http:0", Client.BaseAddress!.ToString(),
            "--Gateway:ModelManager:ApiToken", Token,
            .. settings,
        ]);
        await gateway.StartAsync(Cancellation);
        return gateway;
    }

    public async Task WaitForStateAsync(string model, string state, TimeSpan? deadline = null) =>
        await Eventually.HoldsAsync(async () => await StateAsync(model) == state, $"model {model} is {state}", deadline);

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await app.StopAsync(CancellationToken.None);
        await app.DisposeAsync();
    }
}
