using System.Net.Http.Headers;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace LlmAspire.VllmSimulator.Tests;

/// <summary>The simulator hosted in-process on a free loopback port, called over real HTTP.</summary>
public sealed class SimulatorHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private SimulatorHost(WebApplication app, Uri address)
    {
        _app = app;
        Address = address;
        Client = CreateClient();
    }

    public Uri Address { get; }

    /// <summary>A keep-alive client for this host; tests that count connections make their own.</summary>
    public HttpClient Client { get; }

    public SimulatorState State => _app.Services.GetRequiredService<SimulatorState>();

    public static async Task<SimulatorHost> StartAsync(params string[] args)
    {
        var app = SimulatorApplication.Build(["--urls", "http://127.0.0.1:0", .. args]);
        await app.StartAsync(TestContext.Current.CancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single();
        return new SimulatorHost(app, new Uri(address));
    }

    public HttpClient CreateClient() => new(new SocketsHttpHandler()) { BaseAddress = Address, Timeout = TimeSpan.FromSeconds(30) };

    public static HttpRequestMessage Post(string path, string json, params (string Name, string Value)[] headers)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path)
        {
            Content = new StringContent(json, Encoding.UTF8, new MediaTypeHeaderValue("application/json")),
        };
        foreach (var (name, value) in headers)
        {
            request.Headers.Add(name, value);
        }

        return request;
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _app.StopAsync(CancellationToken.None);
        await _app.DisposeAsync();
    }
}
