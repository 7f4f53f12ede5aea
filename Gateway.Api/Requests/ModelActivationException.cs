using LlmAspire.Gateway.Api.OpenAi;

namespace LlmAspire.Gateway.Api.Requests;

/// <summary>The model a request needs could not be made ready; <see cref="Error"/> is what the client is told.</summary>
internal sealed class ModelActivationException(OpenAiError error, TimeSpan? retryAfter) : Exception(error.Message)
{
    public OpenAiError Error { get; } = error;

    public TimeSpan? RetryAfter { get; } = retryAfter;
}
