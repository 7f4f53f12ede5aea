using LlmAspire.ModelManager.Client;

namespace LlmAspire.ModelManager.Lifecycle;

/// <summary>
/// Lifecycle of a model server: Stopped → Starting → Ready → Stopping → Stopped, and Failed (with backoff) when a
/// start does not succeed. A future Sleeping state (vLLM sleep mode: GPU memory freed in place, woken in well under a
/// second) belongs between Ready and Stopping; it would be entered by the idle reaper before a full stop.
/// </summary>
internal enum ModelState
{
    Stopped,
    Starting,
    Ready,
    Stopping,
    Failed,
}

internal static class ModelStateExtensions
{
    /// <summary>The state as the API, the metrics and the docs spell it: <c>stopped</c>, <c>starting</c>, <c>ready</c>, …</summary>
    public static string Name(this ModelState state) => state switch
    {
        ModelState.Stopped => ModelStateNames.Stopped,
        ModelState.Starting => ModelStateNames.Starting,
        ModelState.Ready => ModelStateNames.Ready,
        ModelState.Stopping => ModelStateNames.Stopping,
        ModelState.Failed => ModelStateNames.Failed,
        _ => state.ToString().ToLowerInvariant(),
    };
}

/// <summary>A model cannot be served now; <see cref="RetryAfter"/> says when asking again makes sense.</summary>
internal sealed class ModelUnavailableException(string message, TimeSpan retryAfter, string code = "model_unavailable") : Exception(message)
{
    public TimeSpan RetryAfter { get; } = retryAfter;

    /// <summary>Machine-readable reason: <c>model_unavailable</c>, <c>model_backing_off</c>, <c>capacity_exhausted</c>, <c>model_stopped</c>.</summary>
    public string Code { get; } = code;

    public static ModelUnavailableException ShuttingDown() => new("ModelManager is shutting down.", TimeSpan.FromSeconds(5), "shutting_down");
}
