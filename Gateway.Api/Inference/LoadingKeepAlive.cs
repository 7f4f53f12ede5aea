using System.Globalization;
using System.Text;

namespace LlmAspire.Gateway.Api.Inference;

/// <summary>
/// While a streaming request waits for its model to load, the response is started as an event stream and gets an SSE
/// comment line now and every interval, so that proxies and load balancers do not cut a connection that looks idle.
/// Clients ignore comment lines; the model's events follow them on the same stream.
/// </summary>
internal static class LoadingKeepAlive
{
    public static async Task WriteUntilAsync(HttpResponse response, string model, Task loading, TimeSpan interval, TimeProvider timeProvider)
    {
        var aborted = response.HttpContext.RequestAborted;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        var started = timeProvider.GetTimestamp();
        // The id comes from the client and may not be in any catalog yet: it must not be able to end the comment line.
        model = model.ReplaceLineEndings(" ");
        await WriteAsync(response, $": loading model '{model}'\n\n", aborted);

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(aborted);
        try
        {
            while (!loading.IsCompleted)
            {
                var tick = Task.Delay(interval, timeProvider, stop.Token);
                if (await Task.WhenAny(loading, tick) == loading)
                {
                    return;
                }

                aborted.ThrowIfCancellationRequested();
                var seconds = timeProvider.GetElapsedTime(started).TotalSeconds.ToString("F0", CultureInfo.InvariantCulture);
                await WriteAsync(response, $": loading model '{model}' ({seconds} s)\n\n", aborted);
            }
        }
        finally
        {
            // Ends the pending delay's timer at once instead of at its due time.
            await stop.CancelAsync();
        }
    }

    private static async Task WriteAsync(HttpResponse response, string comment, CancellationToken aborted)
    {
        await response.Body.WriteAsync(Encoding.UTF8.GetBytes(comment), aborted);
        await response.Body.FlushAsync(aborted);
    }
}
