namespace LlmAspire.Gateway;

/// <summary>The gateway's composition, shared by <c>Program.cs</c> and the tests that host it in-process.</summary>
public static class GatewayApplication
{
    public static WebApplication Create(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.AddServiceDefaults();
        builder.AddGateway();

        var app = builder.Build();
        app.MapDefaultEndpoints();
        app.MapGateway();
        return app;
    }
}
