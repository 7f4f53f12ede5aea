using System.Net;

namespace LlmAspire.ModelManager.Lifecycle;

/// <summary>
/// A model server is ready when its own <c>/health</c> and then <c>/v1/models</c> answer 200. Probed with a plain
/// client: the resilient defaults of control-plane clients would add retries and delays to every probe.
/// </summary>
internal sealed class ReadinessProbe : IDisposable
{
    private readonly HttpClient client = new(new SocketsHttpHandler { UseProxy = false, PooledConnectionLifetime = TimeSpan.FromSeconds(30) })
    {
        Timeout = TimeSpan.FromSeconds(5),
    };

    public async Task<bool> IsReadyAsync(Uri endpoint, CancellationToken cancellationToken)
    {
        try
        {
            using var health = await client.GetAsync(new Uri(endpoint, "/health"), cancellationToken);
            if (health.StatusCode != HttpStatusCode.OK)
            {
                return false;
            }

            using var models = await client.GetAsync(new Uri(endpoint, "/v1/models"), cancellationToken);
            return models.StatusCode == HttpStatusCode.OK;
        }
        catch (HttpRequestException)
        {
            return false;
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>
    /// True only when nothing accepts connections at the endpoint any more (the server is gone, whatever its process
    /// or container looks like); a server that is merely slow or busy is not "refusing".
    /// </summary>
    public async Task<bool> RefusesConnectionsAsync(Uri endpoint, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(2));
        try
        {
            using var health = await client.GetAsync(new Uri(endpoint, "/health"), HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            return false;
        }
        catch (HttpRequestException exception)
        {
            return exception.HttpRequestError == HttpRequestError.ConnectionError;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    public void Dispose() => client.Dispose();
}
