using System.Net;
using System.Text.Json;
using LlmAspire.Gateway.Api.Configuration;
using LlmAspire.Gateway.Api.OpenAi;
using LlmAspire.Gateway.Api.Requests;
using LlmAspire.ModelManager.Client;
using Microsoft.Extensions.Options;
using ApiClient = LlmAspire.ModelManager.Client.ModelManagerClient;

namespace LlmAspire.Gateway.Api.ModelLifecycle;

/// <summary>
/// The gateway's calls to ModelManager: <see cref="ApiClient"/> over the <see cref="HttpClientName"/> client (service
/// discovery, no resilience handler and no timeout of its own: <c>ensure</c> waits for minutes by design), with the
/// gateway's policy around it: every call sets its own limit, and a failed <c>ensure</c> becomes the 404 or 503 the
/// client gets.
/// </summary>
internal sealed class ModelManagerClient(IHttpClientFactory clients, IOptions<ModelManagerClientOptions> options)
{
    public const string HttpClientName = "modelmanager";
    private static readonly TimeSpan UnreachableRetryAfter = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan CallMargin = TimeSpan.FromSeconds(10);

    /// <summary>Long poll: the catalog as soon as its version passes <paramref name="since"/>, or unchanged after the poll timeout.</summary>
    public async Task<FleetSnapshot> WaitForChangeAsync(long? since, CancellationToken cancellationToken)
    {
        var wait = options.Value.ChangePollTimeout;
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(wait + CallMargin);
        return await Api().WaitForChangeAsync(since, wait, limit.Token);
    }

    /// <summary>
    /// Has ModelManager make the model ready (starting it, or with <paramref name="verify"/> replacing a server that no
    /// longer accepts connections) and returns it with its endpoint. Every failure becomes the 404/503 the client gets.
    /// </summary>
    public async Task<ModelSnapshot> EnsureAsync(string model, bool verify, CancellationToken cancellationToken)
    {
        var wait = options.Value.EnsureTimeout;
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(wait + CallMargin);
        try
        {
            return await Api().EnsureAsync(model, wait, verify, limit.Token);
        }
        catch (ModelManagerException refused)
        {
            var message = refused.Error?.Message ?? Truncated(refused.Body);
            throw refused.StatusCode switch
            {
                HttpStatusCode.NotFound => new ModelActivationException(OpenAiError.ModelNotFound(model), null),
                HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout => Unavailable(message, refused.Error?.Code ?? "model_unavailable", refused.RetryAfter),
                HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden => Unavailable(
                    $"Model '{model}' is not loaded and the gateway cannot start it: ModelManager refused the gateway's token ({ModelManagerClientOptions.SectionName}:ApiToken).",
                    "model_manager_unauthorized", UnreachableRetryAfter),
                var status => Unavailable($"Model '{model}' is not loaded and ModelManager failed to start it ({(int?)status}): {message}", "model_manager_error", UnreachableRetryAfter),
            };
        }
        catch (Exception exception) when (exception is HttpRequestException or JsonException or InvalidDataException
            || (exception is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            throw Unavailable(
                $"Model '{model}' is not loaded and ModelManager (service '{ModelManagerDiscovery.ServiceName}') cannot be reached to start it: {Describe(exception)}",
                "model_manager_unreachable", UnreachableRetryAfter);
        }
    }

    public async Task ReportActivityAsync(ActivityReport report, CancellationToken cancellationToken)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(CallMargin);
        await Api().ReportActivityAsync(report, limit.Token);
    }

    // The token is required whenever ModelManager is configured (ModelManagerClientOptionsValidator).
    private ApiClient Api() => new(clients.CreateClient(HttpClientName), options.Value.ApiToken!);

    private static string Truncated(string text) => text.Length > 500 ? text[..500] : text;

    private static ModelActivationException Unavailable(string message, string code, TimeSpan? retryAfter) =>
        new(new OpenAiError(StatusCodes.Status503ServiceUnavailable, message, "server_error", null, code), retryAfter ?? UnreachableRetryAfter);

    private static string Describe(Exception exception) => exception switch
    {
        OperationCanceledException => "the call timed out.",
        HttpRequestException { InnerException: { } inner } => inner.Message,
        _ => exception.Message,
    };
}
