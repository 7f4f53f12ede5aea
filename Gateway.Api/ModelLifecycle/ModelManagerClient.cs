using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using LlmAspire.Gateway.Api.Configuration;
using LlmAspire.Gateway.Api.OpenAi;
using LlmAspire.Gateway.Api.Requests;
using Microsoft.Extensions.Options;

namespace LlmAspire.Gateway.Api.ModelLifecycle;

/// <summary>A catalog model as ModelManager reports it (the fields of its model JSON the gateway uses).</summary>
internal sealed record ManagedModelSnapshot(string Id, string State, Uri? Endpoint, int MaxConcurrency, string? LastError, long Version);

/// <summary>ModelManager's whole catalog at one version.</summary>
internal sealed record FleetSnapshot(long Version, IReadOnlyList<ManagedModelSnapshot> Models);

/// <summary>One replica's activity report: in-flight and queued requests and seconds since the last one ended, per model.</summary>
internal sealed record ActivityReport(string Replica, Dictionary<string, ModelActivity> Models);

/// <param name="Queued">Waiting in the model's admission queue or, holding a slot, for the model to load.</param>
internal sealed record ModelActivity(int InFlight, double IdleSeconds, int Queued);

/// <summary>
/// Calls ModelManager's API (docs/modelmanager.md) through service discovery. Its HttpClient has no resilience
/// handler and no timeout of its own: <c>ensure</c> waits for minutes by design, so every call sets its own limit.
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
        var query = since is { } version
            ? $"api/changes?since={version.ToString(CultureInfo.InvariantCulture)}&timeoutSeconds={wait.TotalSeconds.ToString(CultureInfo.InvariantCulture)}"
            : "api/changes";
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(wait + CallMargin);
        using var response = await SendAsync(new HttpRequestMessage(HttpMethod.Get, query), limit.Token);
        response.EnsureSuccessStatusCode();
        var fleet = await response.Content.ReadFromJsonAsync<FleetSnapshot>(JsonSerializerOptions.Web, limit.Token);
        return fleet ?? throw new InvalidDataException("ModelManager answered the change feed with an empty body.");
    }

    /// <summary>
    /// Has ModelManager make the model ready (starting it, or with <paramref name="verify"/> replacing a server that no
    /// longer accepts connections) and returns it with its endpoint. Every failure becomes the 404/503 the client gets.
    /// </summary>
    public async Task<ManagedModelSnapshot> EnsureAsync(string model, bool verify, CancellationToken cancellationToken)
    {
        var wait = options.Value.EnsureTimeout;
        var path = $"api/models/{Uri.EscapeDataString(model)}/ensure?timeoutSeconds={wait.TotalSeconds.ToString(CultureInfo.InvariantCulture)}{(verify ? "&verify=true" : "")}";
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(wait + CallMargin);
        try
        {
            using var response = await SendAsync(new HttpRequestMessage(HttpMethod.Post, path), limit.Token);
            if (response.IsSuccessStatusCode)
            {
                return await response.Content.ReadFromJsonAsync<ManagedModelSnapshot>(JsonSerializerOptions.Web, limit.Token)
                    ?? throw new InvalidDataException("ModelManager answered ensure with an empty body.");
            }

            var body = await response.Content.ReadAsByteArrayAsync(limit.Token);
            var (message, code) = OpenAiError.TryParse(body, (int)response.StatusCode, out var error)
                ? (error.Message, error.Code)
                : (Truncated(System.Text.Encoding.UTF8.GetString(body)), null);
            var retryAfter = response.Headers.RetryAfter?.Delta;
            throw response.StatusCode switch
            {
                HttpStatusCode.NotFound => new ModelActivationException(OpenAiError.ModelNotFound(model), null),
                HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout => Unavailable(message, code ?? "model_unavailable", retryAfter),
                HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden => Unavailable(
                    $"Model '{model}' is not loaded and the gateway cannot start it: ModelManager refused the gateway's token ({ModelManagerClientOptions.SectionName}:ApiToken).",
                    "model_manager_unauthorized", UnreachableRetryAfter),
                _ => Unavailable($"Model '{model}' is not loaded and ModelManager failed to start it ({(int)response.StatusCode}): {message}", "model_manager_error", UnreachableRetryAfter),
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
        using var response = await SendAsync(
            new HttpRequestMessage(HttpMethod.Post, "api/activity") { Content = JsonContent.Create(report, options: JsonSerializerOptions.Web) }, limit.Token);
        response.EnsureSuccessStatusCode();
    }

    private async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        using (request)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", options.Value.ApiToken);
            return await clients.CreateClient(HttpClientName).SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken);
        }
    }

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
