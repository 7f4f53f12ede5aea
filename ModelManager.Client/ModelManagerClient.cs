using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace LlmAspire.ModelManager.Client;

/// <summary>
/// ModelManager's control API (docs/modelmanager.md) over <paramref name="httpClient"/>, whose <c>BaseAddress</c> is
/// ModelManager's root; every call carries <paramref name="apiToken"/>. It sets no timeout and retries nothing: an
/// ensure waits while a model loads and the change stream stays open, so the caller gives each call the limit it needs.
/// An error status throws <see cref="ModelManagerException"/>.
/// </summary>
public sealed class ModelManagerClient(HttpClient httpClient, string apiToken)
{
    private static ModelManagerJsonContext Json => ModelManagerJsonContext.Default;

    /// <summary><c>GET /api/models</c>: every catalog model.</summary>
    public Task<FleetSnapshot> GetModelsAsync(CancellationToken cancellationToken = default) =>
        ReadAsync(HttpMethod.Get, "api/models", Json.FleetSnapshot, cancellationToken);

    /// <summary><c>GET /api/models/{id}</c>.</summary>
    public Task<ModelSnapshot> GetModelAsync(string id, CancellationToken cancellationToken = default) =>
        ReadAsync(HttpMethod.Get, ModelPath(id), Json.ModelSnapshot, cancellationToken);

    /// <summary>
    /// <c>POST /api/models/{id}/ensure</c>: waits until the model is ready (starting it when needed) and returns it with
    /// its endpoint. <paramref name="timeout"/>: how long ModelManager waits before answering 504 <c>model_loading</c>
    /// (default: the model's start-up timeout and some). <paramref name="verify"/>: a ready server that no longer
    /// accepts connections is replaced first.
    /// </summary>
    public Task<ModelSnapshot> EnsureAsync(string id, TimeSpan? timeout = null, bool verify = false, CancellationToken cancellationToken = default) =>
        ReadAsync(
            HttpMethod.Post,
            ModelPath(id) + "/ensure" + Query(("timeoutSeconds", Seconds(timeout)), ("verify", verify ? "true" : null)),
            Json.ModelSnapshot,
            cancellationToken);

    /// <summary><c>POST /api/models/{id}/stop</c>: stops the model (cancelling a load); with requests in flight only when <paramref name="force"/>.</summary>
    public Task<ModelSnapshot> StopAsync(string id, bool force = false, CancellationToken cancellationToken = default) =>
        ReadAsync(HttpMethod.Post, ModelPath(id) + "/stop" + Query(("force", force ? "true" : null)), Json.ModelSnapshot, cancellationToken);

    /// <summary><c>POST /api/activity</c>: a gateway replica's report.</summary>
    public async Task ReportActivityAsync(ActivityReport report, CancellationToken cancellationToken = default)
    {
        using var response = await SendAsync(
            HttpMethod.Post, "api/activity", JsonContent.Create(report, Json.ActivityReport), HttpCompletionOption.ResponseContentRead, cancellationToken);
    }

    /// <summary>
    /// <c>GET /api/changes</c>, the long poll: the fleet as soon as its version passes <paramref name="since"/> (at once
    /// without it), or unchanged after <paramref name="timeout"/> (ModelManager's default 30 s, at most 120 s).
    /// </summary>
    public Task<FleetSnapshot> WaitForChangeAsync(long? since = null, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        ReadAsync(
            HttpMethod.Get,
            "api/changes" + Query(("since", since?.ToString(CultureInfo.InvariantCulture)), ("timeoutSeconds", Seconds(timeout))),
            Json.FleetSnapshot,
            cancellationToken);

    /// <summary>
    /// <c>GET /api/changes/stream</c>: the fleet at once, then after every state change and (coalesced) activity change,
    /// until the stream ends or <paramref name="cancellationToken"/> is cancelled.
    /// </summary>
    public async IAsyncEnumerable<FleetSnapshot> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var response = await SendAsync(HttpMethod.Get, "api/changes/stream", null, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        await foreach (var item in SseParser.Create(stream).EnumerateAsync(cancellationToken))
        {
            if (item.EventType == "models" && JsonSerializer.Deserialize(item.Data, Json.FleetSnapshot) is { } fleet)
            {
                yield return fleet;
            }
        }
    }

    /// <summary><c>GET /api/events</c>: the most recent lifecycle events, oldest first, of one model or all.</summary>
    public async Task<IReadOnlyList<LifecycleEvent>> GetEventsAsync(string? model = null, int? limit = null, CancellationToken cancellationToken = default)
    {
        var path = "api/events" + Query(("model", model), ("limit", limit?.ToString(CultureInfo.InvariantCulture)));
        return (await ReadAsync(HttpMethod.Get, path, Json.LifecycleEventList, cancellationToken)).Events;
    }

    private static string ModelPath(string id) => $"api/models/{Uri.EscapeDataString(id)}";

    private static string? Seconds(TimeSpan? duration) => duration?.TotalSeconds.ToString(CultureInfo.InvariantCulture);

    /// <summary>The query string of the parameters that have a value, or "".</summary>
    private static string Query(params ReadOnlySpan<(string Name, string? Value)> parameters)
    {
        var query = new StringBuilder();
        foreach (var (name, value) in parameters)
        {
            if (value is not null)
            {
                query.Append(query.Length == 0 ? '?' : '&').Append(name).Append('=').Append(Uri.EscapeDataString(value));
            }
        }

        return query.ToString();
    }

    private async Task<T> ReadAsync<T>(HttpMethod method, string path, JsonTypeInfo<T> answer, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(method, path, null, HttpCompletionOption.ResponseContentRead, cancellationToken);
        return await response.Content.ReadFromJsonAsync(answer, cancellationToken)
            ?? throw new InvalidDataException($"ModelManager answered {method} /{path} with an empty body.");
    }

    private async Task<HttpResponseMessage> SendAsync(
        HttpMethod method, string path, HttpContent? content, HttpCompletionOption completion, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, path) { Content = content };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiToken);
        var response = await httpClient.SendAsync(request, completion, cancellationToken);
        if (response.IsSuccessStatusCode)
        {
            return response;
        }

        using (response)
        {
            throw await ModelManagerException.ReadAsync(response, cancellationToken);
        }
    }
}
