namespace LlmAspire.ModelManager.Tests.Infrastructure;

/// <summary>A loopback server that answers 200 to everything: what the fake runtime's servers point at.</summary>
public sealed class ReadyServer : IAsyncDisposable
{
    private readonly WebApplication app;

    private ReadyServer(WebApplication app) => this.app = app;

    public Uri Address => new(app.Urls.First());

    public static async Task<ReadyServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        app.Run(context => context.Response.WriteAsync("{\"object\":\"list\",\"data\":[]}"));
        await app.StartAsync(TestContext.Current.CancellationToken);
        return new ReadyServer(app);
    }

    public ValueTask DisposeAsync() => app.DisposeAsync();
}
