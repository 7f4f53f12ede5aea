using System.Security.Cryptography;
using System.Text;
using LlmAspire.ModelManager.Catalog;
using LlmAspire.ModelManager.Lifecycle;
using Microsoft.Extensions.Options;

namespace LlmAspire.ModelManager.Api;

public static class ModelsApi
{
    private static readonly TimeSpan DefaultEnsureWait = TimeSpan.FromMinutes(10);
    private static readonly TimeSpan ChangeFeedWait = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Maps the control API. Every call needs <c>Authorization: Bearer &lt;ModelManager:ApiToken&gt;</c>: it starts
    /// and stops GPU workloads. Only catalog ids are accepted; nothing a caller sends is ever run.
    /// </summary>
    public static IEndpointRouteBuilder MapModelsApi(this IEndpointRouteBuilder endpoints)
    {
        var api = endpoints.MapGroup("/api").AddEndpointFilter(RequireToken);

        api.MapGet("/models", (ModelFleet fleet, ActivityTracker activity) => Fleet(fleet, activity));

        api.MapGet("/models/{id}", (string id, ModelFleet fleet, ActivityTracker activity) =>
            fleet.Models.TryGetValue(id, out var model) ? Results.Json(ModelView.Of(model, activity)) : NotInCatalog(id));

        api.MapPost("/models/{id}/ensure", async (string id, double? timeoutSeconds, ModelFleet fleet, ActivityTracker activity, HttpContext context) =>
        {
            if (!fleet.Models.TryGetValue(id, out var model))
            {
                return NotInCatalog(id);
            }

            activity.Touch(id);
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
            wait.CancelAfter(timeoutSeconds is > 0 ? TimeSpan.FromSeconds(timeoutSeconds.Value) : DefaultEnsureWait);
            try
            {
                await model.EnsureAsync(wait.Token);
                return Results.Json(ModelView.Of(model, activity));
            }
            catch (ModelUnavailableException exception)
            {
                return ApiError.Result(StatusCodes.Status503ServiceUnavailable, exception.Message, "model_unavailable", exception.RetryAfter);
            }
            catch (OperationCanceledException) when (!context.RequestAborted.IsCancellationRequested)
            {
                return ApiError.Result(StatusCodes.Status504GatewayTimeout, $"Model '{id}' is still loading.", "model_loading", TimeSpan.FromSeconds(1));
            }
        });

        api.MapPost("/models/{id}/stop", async (string id, ModelFleet fleet) =>
        {
            if (!fleet.Models.TryGetValue(id, out var model))
            {
                return NotInCatalog(id);
            }

            await model.StopAsync("asked to through the API");
            return Results.NoContent();
        });

        api.MapPost("/activity", (ActivityReport report, ActivityTracker activity) =>
        {
            if (string.IsNullOrWhiteSpace(report.Replica))
            {
                return ApiError.Result(StatusCodes.Status400BadRequest, "'replica' is required.", "invalid_request");
            }

            activity.Report(report.Replica, report.Models ?? []);
            return Results.NoContent();
        });

        // Long-poll change feed: answers at once when anything changed after `since`, otherwise at the next change
        // or after 30 s with the unchanged list, so gateways learn about state changes without polling hard.
        api.MapGet("/models/changes", async (long? since, ModelFleet fleet, ActivityTracker activity, HttpContext context) =>
        {
            if (since is { } known && fleet.Version <= known)
            {
                await Task.WhenAny(fleet.Changed, Task.Delay(ChangeFeedWait, context.RequestAborted));
            }

            return Fleet(fleet, activity);
        });

        return endpoints;
    }

    private static IResult Fleet(ModelFleet fleet, ActivityTracker activity) => Results.Json(new
    {
        version = fleet.Version,
        models = fleet.Models.Values.OrderBy(model => model.Id, StringComparer.Ordinal).Select(model => ModelView.Of(model, activity)),
    });

    private static IResult NotInCatalog(string id) =>
        ApiError.Result(StatusCodes.Status404NotFound, $"Model '{id}' is not in the catalog.", "model_not_found");

    private static async ValueTask<object?> RequireToken(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var expected = context.HttpContext.RequestServices.GetRequiredService<IOptions<ModelManagerOptions>>().Value.ApiToken!;
        var header = context.HttpContext.Request.Headers.Authorization.ToString();
        var presented = header.StartsWith("Bearer ", StringComparison.Ordinal) ? header["Bearer ".Length..] : "";
        if (!CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(presented), Encoding.UTF8.GetBytes(expected)))
        {
            return ApiError.Result(StatusCodes.Status401Unauthorized, "A valid bearer token is required.", "invalid_token");
        }

        return await next(context);
    }
}
