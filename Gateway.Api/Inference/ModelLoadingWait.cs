using System.Globalization;
using System.Text;
using LlmAspire.Gateway.Api.ModelLifecycle;
using LlmAspire.Gateway.Api.Requests;
using LlmAspire.Gateway.Api.Routing;
using Microsoft.Extensions.Options;

namespace LlmAspire.Gateway.Api.Inference;

/// <summary>
/// A request's wait for a model that is not loaded (one ensure for every waiting request). While a streaming request
/// waits, its response is started as an event stream and gets an SSE comment line now and every
/// <see cref="ModelManagerClientOptions.LoadingKeepAliveInterval"/>, so that proxies and load balancers do not cut a
/// connection that looks idle. Clients ignore comment lines; the model's events follow them on the same stream, and
/// since the response is committed to 200, a later error becomes an error event.
/// </summary>
internal sealed class ModelLoadingWait(ModelActivation activation, IOptions<ModelManagerClientOptions> options, TimeProvider timeProvider)
{
    private readonly TimeSpan interval = options.Value.LoadingKeepAliveInterval;

    /// <summary>The model's route once it is ready; throws <see cref="ModelActivationException"/> when it cannot be made ready.</summary>
    public async Task<ModelRoute> UntilReadyAsync(HttpContext context, RoutedModel model, bool stream, CancellationToken waiting)
    {
        var loading = activation.ActivateAsync(model, waiting);
        if (stream && !loading.IsCompleted && !context.Response.HasStarted)
        {
            await KeepAliveUntilAsync(context.Response, model.Id, loading);
        }

        return await loading;
    }

    private async Task KeepAliveUntilAsync(HttpResponse response, string model, Task loading)
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
