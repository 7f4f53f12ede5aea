using LlmAspire.ModelManager.Client;

namespace LlmAspire.ModelManager.Lifecycle;

/// <summary>
/// Lifecycle of a model server: Stopped → Starting → Ready → Stopping → Stopped, and Failed (with backoff) when a
/// start does not succeed. Between Ready and Stopping, Sleeping: vLLM's sleep mode, the server running with its GPU
/// memory freed; an ensure wakes it (Sleeping → Starting → Ready, in well under a second).
/// </summary>
internal enum ModelState
{
    Stopped,
    Starting,
    Ready,
    Sleeping,
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
        ModelState.Sleeping => ModelStateNames.Sleeping,
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
