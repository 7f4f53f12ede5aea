namespace LlmAspire.Gateway.Api.Requests;

/// <summary>
/// Marks an endpoint that calls a model. Rate limits and the usage ledger apply to exactly these endpoints.
/// </summary>
internal sealed record InferenceEndpointMetadata(InferenceOperation Operation);
