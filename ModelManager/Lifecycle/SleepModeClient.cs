using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;

namespace LlmAspire.ModelManager.Lifecycle;

/// <summary>
/// vLLM's sleep mode over a model server's own HTTP API (served with <c>--enable-sleep-mode</c> and
/// <c>VLLM_SERVER_DEV_MODE=1</c>): <c>POST /sleep?level=n</c>; <c>POST /wake_up</c>, which after level 2 is
/// <c>wake_up?tags=weights</c>, <c>collective_rpc</c> <c>reload_weights</c> (level 2 discarded them) and
/// <c>wake_up?tags=kv_cache</c>, as vLLM documents it; and <c>GET /is_sleeping</c>, which each step is checked with.
/// A plain client, like the readiness probe's: every call is bounded by the caller.
/// </summary>
internal sealed class SleepModeClient(TimeProvider time) : IDisposable
{
    private readonly HttpClient client = new(new SocketsHttpHandler { UseProxy = false, PooledConnectionLifetime = TimeSpan.FromSeconds(30) })
    {
        Timeout = Timeout.InfiniteTimeSpan,
    };

    /// <summary>Puts the server to sleep at <paramref name="level"/> within <paramref name="timeout"/>; <see cref="SleepModeException"/> otherwise.</summary>
    public Task SleepAsync(Uri endpoint, int level, TimeSpan timeout, CancellationToken cancellationToken) =>
        WithinAsync(timeout, cancellationToken, async token =>
        {
            await PostAsync(endpoint, $"sleep?level={level.ToString(CultureInfo.InvariantCulture)}", null, token);
            if (!await IsSleepingAsync(endpoint, token))
            {
                throw new SleepModeException("the server answered /sleep but says it is not asleep");
            }
        });

    /// <summary>Wakes a server put to sleep at <paramref name="level"/> within <paramref name="timeout"/>; <see cref="SleepModeException"/> otherwise.</summary>
    public Task WakeAsync(Uri endpoint, int level, TimeSpan timeout, CancellationToken cancellationToken) =>
        WithinAsync(timeout, cancellationToken, async token =>
        {
            if (level == 2)
            {
                await PostAsync(endpoint, "wake_up?tags=weights", null, token);
                await PostAsync(endpoint, "collective_rpc", """{"method":"reload_weights"}""", token);
                await PostAsync(endpoint, "wake_up?tags=kv_cache", null, token);
            }
            else
            {
                await PostAsync(endpoint, "wake_up", null, token);
            }

            if (await IsSleepingAsync(endpoint, token))
            {
                throw new SleepModeException("the server answered /wake_up but still says it is asleep");
            }
        });

    /// <summary>Whether the server says it is asleep; false for a server without sleep mode (404).</summary>
    public async Task<bool> IsSleepingAsync(Uri endpoint, CancellationToken cancellationToken)
    {
        using var response = await client.GetAsync(new Uri(endpoint, "is_sleeping"), cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }

        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        try
        {
            using var answer = JsonDocument.Parse(body);
            if (response.IsSuccessStatusCode && answer.RootElement.ValueKind == JsonValueKind.Object
                && answer.RootElement.TryGetProperty("is_sleeping", out var sleeping) && sleeping.ValueKind is JsonValueKind.True or JsonValueKind.False)
            {
                return sleeping.GetBoolean();
            }
        }
        catch (JsonException)
        {
        }

        throw new SleepModeException($"GET /is_sleeping answered {(int)response.StatusCode} {Shortened(body)}");
    }

    public void Dispose() => client.Dispose();

    private async Task PostAsync(Uri endpoint, string path, string? json, CancellationToken cancellationToken)
    {
        using var content = json is null ? null : new StringContent(json, Encoding.UTF8, "application/json");
        using var response = await client.PostAsync(new Uri(endpoint, path), content, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            var hint = response.StatusCode == HttpStatusCode.NotFound
                ? " (is the server started with sleep mode: vLLM's --enable-sleep-mode and VLLM_SERVER_DEV_MODE=1?)"
                : "";
            throw new SleepModeException($"POST /{path} answered {(int)response.StatusCode} {Shortened(await response.Content.ReadAsStringAsync(cancellationToken))}{hint}");
        }
    }

    /// <summary>Runs <paramref name="call"/> within <paramref name="timeout"/>; a refused connection or a timeout becomes a <see cref="SleepModeException"/>.</summary>
    private async Task WithinAsync(TimeSpan timeout, CancellationToken cancellationToken, Func<CancellationToken, Task> call)
    {
        using var limit = new CancellationTokenSource(timeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, limit.Token);
        try
        {
            await call(linked.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new SleepModeException($"the server did not answer within WakeTimeout ({timeout})");
        }
        catch (HttpRequestException exception)
        {
            throw new SleepModeException(exception.Message, exception);
        }
    }

    private static string Shortened(string body) => body.Length > 300 ? body[..300] + "…" : body;
}

/// <summary>A model server did not sleep or wake as asked, with a message meant for operators.</summary>
internal sealed class SleepModeException(string message, Exception? inner = null) : Exception(message, inner);
