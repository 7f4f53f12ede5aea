using LlmAspire.Gateway.Api.Forwarding;
using LlmAspire.Gateway.Api.OpenAi;
using LlmAspire.Gateway.Api.Requests;
using LlmAspire.Gateway.Api.Routing;
using LlmAspire.Gateway.Api.Shutdown;
using LlmAspire.Gateway.Api.Telemetry;

namespace LlmAspire.Gateway.Api.ModelLifecycle;

/// <summary>
/// Makes managed models routable: one <c>ensure</c> call per model however many requests wait for it (single flight,
/// shared by this replica's requests), and one re-ensure when a ready server refuses connections. A caller that gives
/// up stops waiting, not the call, while other requests wait for it; once the last one has gone, the call is ended, so
/// that ModelManager knows nobody here waits for the load any more (the model's <c>OnAbandonedLoad</c> says whether
/// the load goes on). The next request makes a call of its own.
/// </summary>
internal sealed partial class ModelActivation(
    ModelRouteTable routes, ModelManagerClient modelManager, GatewayMetrics metrics, TimeProvider timeProvider,
    GatewayShutdown shutdown, ILogger<ModelActivation> logger) : IModelServerRecovery
{
    private readonly Lock gate = new();
    private readonly Dictionary<(string Model, bool Verify), Flight> pending = [];

    /// <summary>The model's route once it is ready, loading it first when needed.</summary>
    /// <remarks>
    /// The table is asked again: <paramref name="model"/> may be what a request saw before it waited for a slot, and
    /// the model may have become ready meanwhile.
    /// </remarks>
    public Task<ModelRoute> ActivateAsync(RoutedModel model, CancellationToken cancellationToken) =>
        (routes.TryGetModel(model.Id, out var current) ? current.Route : model.Route) is { } route
            ? Task.FromResult(route)
            : JoinAsync(model.Id, verify: false, cancellationToken);

    /// <summary>
    /// Called when <paramref name="failed"/> refused a connection: takes it out of the table and has ModelManager check
    /// the server and start it again if it is gone. A route that already moved elsewhere is returned without a call.
    /// </summary>
    public Task<ModelRoute> ReactivateAsync(ModelRoute failed, CancellationToken cancellationToken)
    {
        routes.MarkDown(failed.Id, failed.Endpoint);
        if (routes.TryGetModel(failed.Id, out var current) && current.Route is { } moved && moved.Endpoint != failed.Endpoint)
        {
            return Task.FromResult(moved);
        }

        return JoinAsync(failed.Id, verify: true, cancellationToken);
    }

    private async Task<ModelRoute> JoinAsync(string model, bool verify, CancellationToken cancellationToken)
    {
        var key = (model, verify);
        Flight flight;
        lock (gate)
        {
            if (!pending.TryGetValue(key, out flight!))
            {
                flight = new Flight();
                pending[key] = flight;
                flight.Answer = EnsureAsync(key, flight);
            }

            flight.Waiting++;
        }

        try
        {
            return await flight.Answer.WaitAsync(cancellationToken);
        }
        finally
        {
            Leave(key, flight);
        }
    }

    /// <summary>A request stops waiting for <paramref name="flight"/>; the last one ends the call.</summary>
    private void Leave((string Model, bool Verify) key, Flight flight)
    {
        lock (gate)
        {
            if (--flight.Waiting > 0 || flight.Answer.IsCompleted)
            {
                return;
            }

            pending.Remove(key);
        }

        flight.Abandon.Cancel();
    }

    private async Task<ModelRoute> EnsureAsync((string Model, bool Verify) key, Flight flight)
    {
        // Let the caller that created the flight return to its await before the call begins.
        await Task.Yield();
        var started = timeProvider.GetTimestamp();
        var outcome = "ready";
        // A load goes on through the shutdown's grace period (requests waiting for it may still be served), or until
        // nobody waits for it.
        using var call = CancellationTokenSource.CreateLinkedTokenSource(shutdown.GraceOver, flight.Abandon.Token);
        try
        {
            var snapshot = await modelManager.EnsureAsync(key.Model, key.Verify, call.Token);
            var answered = snapshot.ToRoutedModel(routes);
            routes.Apply(answered);
            // The waiting requests act on what ModelManager just answered, even when the table holds later news.
            if (answered.Route is not { } route)
            {
                throw new ModelActivationException(new OpenAiError(StatusCodes.Status503ServiceUnavailable,
                    $"ModelManager reported model '{key.Model}' as {snapshot.State} without an endpoint.", "server_error", null, "model_manager_error"),
                    TimeSpan.FromSeconds(1));
            }

            LogReady(logger, key.Model, route.Endpoint, timeProvider.GetElapsedTime(started).TotalMilliseconds);
            return route;
        }
        catch (ModelActivationException exception)
        {
            outcome = exception.Error.Code ?? "failed";
            LogFailed(logger, key.Model, exception.Message);
            throw;
        }
        catch (OperationCanceledException) when (flight.Abandon.IsCancellationRequested)
        {
            outcome = "abandoned";
            throw;
        }
        finally
        {
            lock (gate)
            {
                if (pending.GetValueOrDefault(key) == flight)
                {
                    pending.Remove(key);
                }
            }

            metrics.ModelActivated(key.Model, outcome, timeProvider.GetElapsedTime(started));
        }
    }

    /// <summary>One ensure call and the requests waiting for it (under the lock).</summary>
    private sealed class Flight
    {
        public Task<ModelRoute> Answer { get; set; } = null!;

        public int Waiting { get; set; }

        /// <summary>Cancelled when the last request stopped waiting before the answer came.</summary>
        public CancellationTokenSource Abandon { get; } = new();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Model {Model} is ready at {Endpoint} after {ElapsedMs:F0} ms")]
    private static partial void LogReady(ILogger logger, string model, Uri endpoint, double elapsedMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Model {Model} could not be made ready: {Reason}")]
    private static partial void LogFailed(ILogger logger, string model, string reason);
}
