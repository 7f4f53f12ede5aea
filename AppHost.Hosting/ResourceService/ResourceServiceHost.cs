using System.Text.Json;
using System.Text.Json.Serialization;
using LlmAspire.Hosting.Orchestration;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace LlmAspire.Hosting.ResourceService;

/// <summary>
/// The dashboard's view of the application, on 127.0.0.1 at a free port:
/// <c>GET /api/resources</c>, <c>GET /api/resources/{name}/logs</c> (server-sent events, backlog then live lines) and
/// <c>POST /api/resources/{name}/restart</c>.
/// </summary>
internal sealed class ResourceServiceHost(
    ResourceNotificationService notifications,
    ResourceLoggerService logs,
    ResourceServiceEndpoint endpoint,
    IServiceProvider services) : IHostedService
{
    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    private WebApplication? app;

    /// <summary>Where the resource service listens, e.g. <c>http://127.0.0.1:41234</c>.</summary>
    public string Url => endpoint.Url ?? "";

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        app = builder.Build();
        app.MapGet("/api/resources", () => Results.Json(notifications.Snapshots, Json));
        app.MapGet("/api/resources/{name}/logs", StreamLogsAsync);
        app.MapPost("/api/resources/{name}/restart", RestartAsync);
        await app.StartAsync(cancellationToken);
        endpoint.Url = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single();
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (app is not null)
        {
            await app.StopAsync(cancellationToken);
            await app.DisposeAsync();
        }
    }

    private async Task StreamLogsAsync(string name, HttpContext context)
    {
        if (!Exists(name))
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        var cancellationToken = context.RequestAborted;
        await context.Response.StartAsync(cancellationToken);
        try
        {
            await foreach (var line in logs.WatchAsync(name, cancellationToken))
            {
                await context.Response.WriteAsync($"data: {JsonSerializer.Serialize(line, Json)}\n\n", cancellationToken);
                await context.Response.Body.FlushAsync(cancellationToken);
            }
        }
        catch (OperationCanceledException)
        {
            // The dashboard went away.
        }
    }

    private async Task<IResult> RestartAsync(string name)
    {
        if (!Exists(name))
        {
            return Results.NotFound();
        }

        return await services.GetRequiredService<Orchestrator>().RestartAsync(name)
            ? Results.Accepted()
            : Results.Conflict(new { error = $"'{name}' is not a process that can be restarted." });
    }

    private bool Exists(string name) => notifications.Snapshots.Any(s => s.Name == name);
}
