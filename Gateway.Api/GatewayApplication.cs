namespace LlmAspire.Gateway.Api;

/// <summary>The gateway's composition, shared by <c>Program.cs</c> and the tests that host it in-process.</summary>
public static class GatewayApplication
{
    /// <param name="args">Command line; configuration keys as <c>--Gateway:Models:&lt;id&gt;:Endpoint value</c>.</param>
    /// <param name="configureServices">Registrations made before the gateway's own (tests add a log collector that way).</param>
    public static WebApplication Create(string[] args, Action<IServiceCollection>? configureServices = null)
    {
        var builder = WebApplication.CreateBuilder(args);
        configureServices?.Invoke(builder.Services);
        builder.AddServiceDefaults();
        builder.AddGateway();

        var app = builder.Build();
        app.MapDefaultEndpoints();
        app.MapGateway();
        return app;
    }
}
