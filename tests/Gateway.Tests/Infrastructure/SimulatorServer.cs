using LlmAspire.VllmSimulator;
using Microsoft.Extensions.DependencyInjection;

namespace LlmAspire.Gateway.Tests.Infrastructure;

/// <summary>A vLLM simulator listening on a free loopback port, hosted in the test process.</summary>
public sealed class SimulatorServer : IAsyncDisposable
{
    private readonly WebApplication app;

    private SimulatorServer(WebApplication app, Uri baseAddress)
    {
        this.app = app;
        BaseAddress = baseAddress;
    }

    public Uri BaseAddress { get; }

    public SimulatorState State => app.Services.GetRequiredService<SimulatorState>();

    public static async Task<SimulatorServer> StartAsync(string model, params string[] options)
    {
        var app = SimulatorApplication.Build(["--urls", "http://127.0.0.1:0", "--model", model, "--Logging:LogLevel:Default", "Warning", .. options]);
        await app.StartAsync(TestContext.Current.CancellationToken);
        var address = app.Urls.First();
        return new SimulatorServer(app, new Uri(address));
    }

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync(CancellationToken.None);
        await app.DisposeAsync();
    }
}
