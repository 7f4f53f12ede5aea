namespace LlmAspire.ModelManager.Lifecycle;

/// <summary>Lifecycle of a model server. A future Sleeping state (vLLM sleep mode) belongs between Ready and Stopping.</summary>
public enum ModelState
{
    Stopped,
    Starting,
    Ready,
    Stopping,
    Failed,
}

/// <summary>A model cannot be served now; <see cref="RetryAfter"/> says when asking again makes sense.</summary>
public sealed class ModelUnavailableException(string message, TimeSpan retryAfter) : Exception(message)
{
    public TimeSpan RetryAfter { get; } = retryAfter;
}
