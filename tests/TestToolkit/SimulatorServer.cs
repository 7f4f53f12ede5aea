using LlmAspire.VllmSimulator;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace LlmAspire.TestToolkit;

/// <summary>The vLLM simulator hosted in the test process on a free loopback port, called over real HTTP.</summary>
public sealed class SimulatorServer : IAsyncDisposable
{
    private readonly WebApplication app;

    private SimulatorServer(WebApplication app, Uri baseAddress)
    {
        this.app = app;
        BaseAddress = baseAddress;
        Client = CreateClient();
    }

    public Uri BaseAddress { get; }

    /// <summary>A keep-alive client for this server; tests that count connections make their own.</summary>
    public HttpClient Client { get; }

    public SimulatorState State => app.Services.GetRequiredService<SimulatorState>();

    /// <summary>The simulator serving <paramref name="model"/>, logging warnings only, with further switches in <paramref name="options"/>.</summary>
    public static Task<SimulatorServer> StartAsync(string model, params string[] options) =>
        StartWithArgumentsAsync(["--model", model, "--Logging:LogLevel:Default", "Warning", .. options]);

    /// <summary>The simulator started with exactly these command-line <paramref name="arguments"/>, besides where it listens.</summary>
    public static async Task<SimulatorServer> StartWithArgumentsAsync(params string[] arguments)
    {
        var app = SimulatorApplication.Build(["--urls", "http://127.0.0.1:0", .. arguments]);
        await app.StartAsync(TestContext.Current.CancellationToken);
        return new SimulatorServer(app, new Uri(app.Urls.First()));
    }

    public HttpClient CreateClient() => new(new SocketsHttpHandler()) { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(30) };

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await app.StopAsync(CancellationToken.None);
        await app.DisposeAsync();
    }
}
