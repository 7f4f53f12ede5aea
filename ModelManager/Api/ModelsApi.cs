using System.Collections.ObjectModel;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using LlmAspire.ModelManager.Activity;
using LlmAspire.ModelManager.Catalog;
using LlmAspire.ModelManager.Client;
using LlmAspire.ModelManager.Lifecycle;
using Microsoft.Extensions.Options;

namespace LlmAspire.ModelManager.Api;

/// <summary>The control API under <c>/api</c>; the contract is in docs/modelmanager.md.</summary>
internal static class ModelsApi
{
    private const int MaxActivityReportBytes = 1024 * 1024;
    private static readonly TimeSpan DefaultChangeWait = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan MaxChangeWait = TimeSpan.FromMinutes(2);

    private static ModelManagerJsonContext Json => ModelManagerJsonContext.Default;

    /// <summary>
    /// Maps the control API. Every call needs <c>Authorization: Bearer &lt;ModelManager:ApiToken&gt;</c>: it starts
    /// and stops GPU workloads. Only catalog ids are accepted; nothing a caller sends is ever run.
    /// </summary>
    public static WebApplication MapModelsApi(this WebApplication app)
    {
        app.UseErrorResponses();

        var api = app.MapGroup("/api").AddEndpointFilter(RequireToken);

        api.MapGet("/models", (ModelFleet fleet, ActivityTracker activity, IOptions<ModelManagerOptions> options) =>
            Results.Json(Snapshots.Fleet(fleet, activity, options.Value), Json.FleetSnapshot));

        api.MapGet("/models/{id}", (string id, ModelFleet fleet, ActivityTracker activity) =>
            Find(fleet, id) is { } model ? Results.Json(Snapshots.Model(model, activity), Json.ModelSnapshot) : NotInCatalog(id));

        api.MapPost("/models/{id}/ensure", EnsureAsync);
        api.MapPost("/models/{id}/stop", StopAsync);
        api.MapPost("/activity", ReportActivityAsync);
        api.MapGet("/changes", WaitForChangeAsync);
        api.MapGet("/changes/stream", StreamChangesAsync);

        api.MapGet("/events", (string? model, int? limit, InMemoryLifecycleEventSink events) =>
        {
            var recent = events.Recent(model);
            var count = Math.Clamp(limit ?? 100, 1, InMemoryLifecycleEventSink.Capacity);
            return Results.Json(new LifecycleEventList([.. recent.Skip(Math.Max(0, recent.Count - count))]), Json.LifecycleEventList);
        });

        api.Map("/{**path}", (string? path) =>
            new ApiErrorResult(StatusCodes.Status404NotFound, $"There is no API at '/api/{path}'.", "not_found"));

        return app;
    }

    /// <summary>Waits until the model is ready (starting it when needed) and answers with its endpoint.</summary>
    private static async Task<IResult> EnsureAsync(
        string id, double? timeoutSeconds, bool? verify, ModelFleet fleet, ActivityTracker activity, HttpContext context)
    {
        if (Find(fleet, id) is not { } model)
        {
            return NotInCatalog(id);
        }

        if (timeoutSeconds is { } requested && (!double.IsFinite(requested) || requested <= 0 || requested > 86_400))
        {
            return new ApiErrorResult(StatusCodes.Status400BadRequest, "'timeoutSeconds' must be a number of seconds above 0 and at most 86400.", "invalid_request");
        }

        // An ensure is a request on its way: the model must not be reaped as idle right after it loads.
        activity.Touch(model.Id);
        var wait = timeoutSeconds is { } seconds ? TimeSpan.FromSeconds(seconds) : model.Options.StartupTimeout + TimeSpan.FromSeconds(30);
        try
        {
            // A caller that goes away stops waiting; one whose wait runs out is told to ask again and keeps the load wanted.
            await model.EnsureAsync(verify == true, wait, context.RequestAborted);
            // The caller's requests go out now, however long the load took.
            activity.Touch(model.Id);
            return Results.Json(Snapshots.Model(model, activity), Json.ModelSnapshot);
        }
        catch (ModelUnavailableException exception)
        {
            return new ApiErrorResult(StatusCodes.Status503ServiceUnavailable, exception.Message, exception.Code, exception.RetryAfter);
        }
        catch (TimeoutException)
        {
            return new ApiErrorResult(
                StatusCodes.Status504GatewayTimeout, $"Model '{model.Id}' is still loading after {wait.TotalSeconds:0.###} s.", "model_loading", TimeSpan.FromSeconds(1));
        }
    }

    /// <summary>Stops a model; one with requests in flight only with <c>force=true</c>.</summary>
    private static async Task<IResult> StopAsync(string id, bool? force, ModelFleet fleet, ActivityTracker activity)
    {
        if (Find(fleet, id) is not { } model)
        {
            return NotInCatalog(id);
        }

        var inFlight = activity.InFlight(model.Id);
        if (inFlight > 0 && force != true)
        {
            return new ApiErrorResult(
                StatusCodes.Status409Conflict,
                $"Model '{model.Id}' has {inFlight.ToString(CultureInfo.InvariantCulture)} request(s) in flight; stop it with force=true to cut them.",
                "model_busy");
        }

        await model.StopAsync(force == true && inFlight > 0 ? "stopped through the API (forced)" : "stopped through the API");
        return Results.Json(Snapshots.Model(model, activity), Json.ModelSnapshot);
    }

    private static async Task<IResult> ReportActivityAsync(HttpContext context, ActivityTracker activity)
    {
        if (context.Request.ContentLength > MaxActivityReportBytes)
        {
            return new ApiErrorResult(StatusCodes.Status413PayloadTooLarge, "An activity report must be at most 1 MiB.", "request_too_large");
        }

        ActivityReport? report;
        try
        {
            report = await JsonSerializer.DeserializeAsync(context.Request.Body, Json.ActivityReport, context.RequestAborted);
        }
        catch (JsonException exception)
        {
            return new ApiErrorResult(StatusCodes.Status400BadRequest, $"The activity report is not valid JSON of the documented shape: {exception.Message}", "invalid_request");
        }

        if (report is null || string.IsNullOrWhiteSpace(report.Replica))
        {
            return new ApiErrorResult(StatusCodes.Status400BadRequest, "'replica' is required: a name that stays the same across one gateway process's reports.", "invalid_request");
        }

        if (report.Models?.Values.Any(entry => entry is null
                or { InFlight: < 0 or > ActivityTracker.MaxRequests } or { Queued: < 0 or > ActivityTracker.MaxRequests }
                || entry.IdleSeconds is not (>= 0 and <= ActivityTracker.MaxIdleSeconds)) == true)
        {
            return new ApiErrorResult(StatusCodes.Status400BadRequest,
                $"Every model entry needs 'inFlight' (and 'queued', when given) from 0 to {ActivityTracker.MaxRequests} and 'idleSeconds' from 0 to {ActivityTracker.MaxIdleSeconds}.",
                "invalid_request");
        }

        activity.Report(report.Replica, report.Models ?? ReadOnlyDictionary<string, ModelActivity>.Empty);
        return Results.NoContent();
    }

    /// <summary>
    /// Long poll: answers at once when the fleet's version is past <c>since</c>, otherwise at the next change or after
    /// <c>timeoutSeconds</c> (default 30, at most 120) with the unchanged fleet.
    /// </summary>
    private static async Task<IResult> WaitForChangeAsync(
        long? since, double? timeoutSeconds, ModelFleet fleet, ActivityTracker activity, IOptions<ModelManagerOptions> options, HttpContext context)
    {
        var wait = timeoutSeconds is > 0 and <= 120 ? TimeSpan.FromSeconds(timeoutSeconds.Value) : timeoutSeconds is null ? DefaultChangeWait : MaxChangeWait;
        var changed = fleet.Changed;
        if (since is { } known && fleet.Version <= known)
        {
            try
            {
                await changed.WaitAsync(wait, context.RequestAborted);
            }
            catch (TimeoutException)
            {
            }
        }

        return Results.Json(Snapshots.Fleet(fleet, activity, options.Value), Json.FleetSnapshot);
    }

    /// <summary>
    /// Server-sent events: the whole fleet as a <c>models</c> event (id = version) at once, after every state change,
    /// and after activity changes (in flight, queued, last activity) at most every <c>ChangeFeedActivityInterval</c>
    /// (250 ms); a comment line every <c>ChangeFeedHeartbeat</c> (15 s) while nothing changes, so proxies keep the
    /// connection open.
    /// </summary>
    private static async Task StreamChangesAsync(
        ModelFleet fleet, ActivityTracker activity, IOptions<ModelManagerOptions> options, TimeProvider timeProvider, HttpContext context)
    {
        var response = context.Response;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        var settings = options.Value;
        var aborted = context.RequestAborted;
        var sentVersion = long.MinValue;
        string? sent = null;
        var sentAt = 0L;
        var activityChanged = false;
        try
        {
            while (!aborted.IsCancellationRequested)
            {
                // Take the signals before reading what they guard, so a change in between is never missed.
                var stateChange = fleet.Changed;
                var activityChange = activity.Changed;
                if (fleet.Version != sentVersion || activityChanged)
                {
                    activityChanged = false;
                    var view = Snapshots.Fleet(fleet, activity, settings);
                    sentVersion = view.Version;
                    var json = JsonSerializer.Serialize(view, Json.FleetSnapshot);
                    // Activity that nets out (a request that came and went within the interval) is no news.
                    if (json != sent)
                    {
                        sent = json;
                        sentAt = timeProvider.GetTimestamp();
                        await response.WriteAsync($"id: {sentVersion.ToString(CultureInfo.InvariantCulture)}\nevent: models\ndata: {json}\n\n", aborted);
                        await response.Body.FlushAsync(aborted);
                    }

                    continue;
                }

                try
                {
                    if (await Task.WhenAny(stateChange, activityChange).WaitAsync(settings.ChangeFeedHeartbeat, timeProvider, aborted) == activityChange)
                    {
                        // Coalesce: the rest of the interval since the last event passes first, unless a state change comes.
                        var rest = settings.ChangeFeedActivityInterval - timeProvider.GetElapsedTime(sentAt);
                        if (rest > TimeSpan.Zero)
                        {
                            await Task.WhenAny(stateChange, Task.Delay(rest, timeProvider, aborted));
                        }

                        activityChanged = true;
                    }
                }
                catch (TimeoutException)
                {
                    await response.WriteAsync(": keep-alive\n\n", aborted);
                    await response.Body.FlushAsync(aborted);
                }
            }
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
        }
    }

    private static ManagedModel? Find(ModelFleet fleet, string id) =>
        fleet.Models.TryGetValue(id, out var model) || fleet.Models.TryGetValue(Uri.UnescapeDataString(id), out model) ? model : null;

    private static IResult NotInCatalog(string id) =>
        new ApiErrorResult(StatusCodes.Status404NotFound, $"Model '{id}' is not in the catalog.", "model_not_found");

    private static async ValueTask<object?> RequireToken(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var expected = context.HttpContext.RequestServices.GetRequiredService<IOptions<ModelManagerOptions>>().Value.ApiToken!;
        var header = context.HttpContext.Request.Headers.Authorization.ToString();
        var presented = header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header["Bearer ".Length..].Trim() : "";
        if (!CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(presented)), SHA256.HashData(Encoding.UTF8.GetBytes(expected))))
        {
            context.HttpContext.Response.Headers.WWWAuthenticate = "Bearer";
            return new ApiErrorResult(StatusCodes.Status401Unauthorized, "A valid bearer token (ModelManager:ApiToken) is required.", "invalid_token");
        }

        return await next(context);
    }
}
