using LlmAspire.Gateway.Api;
using LlmAspire.Gateway.Api.Admission;
using Microsoft.Extensions.DependencyInjection;

namespace LlmAspire.Gateway.Tests.Infrastructure;

/// <summary>The gateway exactly as Program.cs composes it, listening on a free loopback port in the test process.</summary>
public sealed class GatewayServer : IAsyncDisposable
{
    private readonly WebApplication app;

    private GatewayServer(WebApplication app, Uri baseAddress)
    {
        this.app = app;
        BaseAddress = baseAddress;
        Client = new HttpClient { BaseAddress = baseAddress, Timeout = Timeout.InfiniteTimeSpan };
    }

    public Uri BaseAddress { get; }

    /// <summary>A client without any timeout of its own, so tests see the gateway's behaviour alone.</summary>
    public HttpClient Client { get; }

    public IServiceProvider Services => app.Services;

    internal AdmissionQueue Queue(string model) => app.Services.GetRequiredService<AdmissionQueues>()[model];

    /// <summary>
    /// Builds the gateway with the given configuration (keys as in appsettings, e.g. <c>Gateway:Models:m:Endpoint</c>).
    /// Authentication and the start-up warm-up are turned off with their documented switches, since most tests run without
    /// PostgreSQL; tests of API keys (and of the warm-up) turn them back on in <paramref name="settings"/> (a later value wins). The simulator's request headers
    /// are added to those forwarded upstream.
    /// </summary>
    public static WebApplication Build(IEnumerable<KeyValuePair<string, string>> settings, Action<IServiceCollection>? configureServices = null) =>
        GatewayApplication.Create(
        [
            "--urls", "http://127.0.0.1:0",
            "--Logging:LogLevel:Default", "Warning",
            "--Gateway:Auth:Enabled", "false",
            // Start-up warm-up is a production speed-up with a test of its own (WarmupTests); here it would only cost time.
            "--Gateway:WarmupRequests", "0",
            // The simulator's per-request overrides and faults, which tests send through the gateway.
            "--Gateway:Upstream:ForwardedRequestHeaders:0", "x-sim-fault",
            "--Gateway:Upstream:ForwardedRequestHeaders:1", "x-sim-output-tokens",
            "--Gateway:Upstream:ForwardedRequestHeaders:2", "x-sim-tokens-per-second",
            "--Gateway:Upstream:ForwardedRequestHeaders:3", "x-sim-ttft-ms",
            .. settings.SelectMany(setting => new[] { $"--{setting.Key}", setting.Value }),
        ], configureServices);

    public static async Task<GatewayServer> StartAsync(IEnumerable<KeyValuePair<string, string>> settings, Action<IServiceCollection>? configureServices = null)
    {
        var app = Build(settings, configureServices);
        await app.StartAsync(TestContext.Current.CancellationToken);
        var address = app.Urls.First();
        return new GatewayServer(app, new Uri(address));
    }

    /// <summary>One model routed to <paramref name="upstream"/>, plus any further settings for it (keys relative to the model).</summary>
    public static Task<GatewayServer> StartAsync(string model, Uri upstream, params (string Key, string Value)[] modelSettings) =>
        StartAsync(ModelSettings(model, upstream, modelSettings));

    public static IEnumerable<KeyValuePair<string, string>> ModelSettings(string model, Uri upstream, params (string Key, string Value)[] modelSettings) =>
        modelSettings.Select(setting => KeyValuePair.Create($"Gateway:Models:{model}:{setting.Key}", setting.Value))
            .Prepend(KeyValuePair.Create($"Gateway:Models:{model}:Endpoint", upstream.ToString()));

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await app.StopAsync(CancellationToken.None);
        await app.DisposeAsync();
    }
}
