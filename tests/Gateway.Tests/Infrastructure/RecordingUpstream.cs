using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LlmAspire.Gateway.Tests.Infrastructure;

/// <summary>
/// A loopback HTTP server whose every answer is written by the test, for upstream behaviour the simulator does not
/// model (exact bytes, odd framing); it records what the gateway sent.
/// </summary>
public sealed class RecordingUpstream : IAsyncDisposable
{
    private readonly WebApplication app;

    private RecordingUpstream(WebApplication app, Uri baseAddress)
    {
        this.app = app;
        BaseAddress = baseAddress;
    }

    public Uri BaseAddress { get; }

    public ConcurrentQueue<SeenRequest> Requests { get; } = new();

    public static async Task<RecordingUpstream> StartAsync(RequestDelegate respond)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        RecordingUpstream? upstream = null;
        app.Run(async context =>
        {
            using var reader = new StreamReader(context.Request.Body);
            upstream!.Requests.Enqueue(new SeenRequest(
                context.Request.Path,
                context.Request.Headers.Authorization.ToString(),
                context.Request.Headers["traceparent"].ToString(),
                await reader.ReadToEndAsync(context.RequestAborted),
                context.Request.Headers.ToDictionary(header => header.Key, header => header.Value.ToString(), StringComparer.OrdinalIgnoreCase)));
            await respond(context);
        });
        await app.StartAsync(TestContext.Current.CancellationToken);
        var address = app.Urls.First();
        upstream = new RecordingUpstream(app, new Uri(address));
        return upstream;
    }

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync(CancellationToken.None);
        await app.DisposeAsync();
    }

    public sealed record SeenRequest(string Path, string Authorization, string TraceParent, string Body, IReadOnlyDictionary<string, string> Headers);
}
