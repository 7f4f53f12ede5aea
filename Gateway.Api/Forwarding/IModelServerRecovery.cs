using LlmAspire.Gateway.Api.Requests;

namespace LlmAspire.Gateway.Api.Forwarding;

/// <summary>
/// What the forwarding handler asks when a managed model's server refused a connection: have the server checked and,
/// if it is gone, started again. Forwarding is the bottom of the request path, so it owns the question and model
/// lifecycle, above it, answers.
/// </summary>
internal interface IModelServerRecovery
{
    /// <summary>
    /// The route to retry on (the model's new server, or where the table already moved it); throws
    /// <see cref="ModelActivationException"/> when the model cannot be brought back.
    /// </summary>
    Task<ModelRoute> ReactivateAsync(ModelRoute failed, CancellationToken cancellationToken);
}
