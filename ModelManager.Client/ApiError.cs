namespace LlmAspire.ModelManager.Client;

/// <summary>The body of every error the API answers (status above 299), in OpenAI's shape.</summary>
public sealed record ApiError(ApiErrorBody Error);

/// <param name="Type"><c>invalid_request_error</c> below 500, <c>server_error</c> from 500.</param>
/// <param name="Code">The machine-readable reason: <c>model_not_found</c>, <c>model_unavailable</c>, <c>model_loading</c>, …</param>
public sealed record ApiErrorBody(string Message, string Type, string Code);
