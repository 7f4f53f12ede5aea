using System.Globalization;
using System.Text;
using LlmAspire.Gateway.Api.Configuration;
using LlmAspire.Gateway.Api.ModelLifecycle;
using LlmAspire.Gateway.Api.Requests;
using LlmAspire.Gateway.Api.Routing;
using Microsoft.Extensions.Options;

namespace LlmAspire.Gateway.Api.Inference;

/// <summary>
/// A request's wait for a model that is not loaded (one ensure for every waiting request), kept alive so that proxies
/// and load balancers do not cut a connection that looks idle, every
/// <see cref="ModelManagerClientOptions.LoadingKeepAliveInterval"/>:
/// <list type="bullet">
/// <item>a streaming request's response is started as an event stream at once and gets an SSE comment line each time;
/// clients ignore comment lines and the model's events follow on the same stream;</item>
/// <item>a non-streaming request that opted in (<see cref="ModelOptions.WhitespaceKeepAlive"/>, or the
/// <see cref="HeaderName"/> header) gets its JSON response started after one interval of loading, and a space each
/// time: whitespace before a JSON value is part of the JSON, so the model's body follows as a valid document.</item>
/// </list>
/// Either way the response is then committed to 200: a later error becomes the error event that ends the stream, or the
/// OpenAI error object that is the whole JSON body, and the ledger records the status it stands for.
/// </summary>
internal sealed class ModelLoadingWait(ModelActivation activation, IOptions<ModelManagerClientOptions> options, TimeProvider timeProvider)
{
    /// <summary>A client's own choice for a non-streaming request, over its model's setting: <c>whitespace</c> or <c>none</c>.</summary>
    public const string HeaderName = "X-LlmAspire-Keepalive";

    private static readonly byte[] Space = " "u8.ToArray();

    private readonly TimeSpan interval = options.Value.LoadingKeepAliveInterval;

    /// <summary>The model's route once it is ready; throws <see cref="ModelActivationException"/> when it cannot be made ready.</summary>
    public async Task<ModelRoute> UntilReadyAsync(HttpContext context, RoutedModel model, bool stream, CancellationToken waiting)
    {
        var loading = activation.ActivateAsync(model, waiting);
        if (!loading.IsCompleted && !context.Response.HasStarted)
        {
            if (stream)
            {
                await CommentsUntilAsync(context.Response, model.Id, loading);
            }
            else if (WantsWhitespace(context.Request, model.Options))
            {
                await WhitespaceUntilAsync(context.Response, loading);
            }
        }

        return await loading;
    }

    /// <summary>The header's <c>whitespace</c> or <c>none</c> wins; any other value is ignored, like an unknown preference.</summary>
    private static bool WantsWhitespace(HttpRequest request, ModelOptions model)
    {
        var choice = request.Headers[HeaderName].ToString().Trim();
        return choice.Equals("whitespace", StringComparison.OrdinalIgnoreCase)
            || (!choice.Equals("none", StringComparison.OrdinalIgnoreCase) && model.WhitespaceKeepAlive);
    }

    private async Task CommentsUntilAsync(HttpResponse response, string model, Task loading)
    {
        Start(response, "text/event-stream");
        var started = timeProvider.GetTimestamp();
        // The id comes from the client and may not be in any catalog yet: it must not be able to end the comment line.
        model = model.ReplaceLineEndings(" ");
        await WriteAsync(response, Encoding.UTF8.GetBytes($": loading model '{model}'\n\n"));
        await EveryIntervalUntilAsync(response, loading, () =>
        {
            var seconds = timeProvider.GetElapsedTime(started).TotalSeconds.ToString("F0", CultureInfo.InvariantCulture);
            return WriteAsync(response, Encoding.UTF8.GetBytes($": loading model '{model}' ({seconds} s)\n\n"));
        });
    }

    /// <summary>
    /// Nothing for the first interval, so that a load that ends soon (a model woken from sleep) keeps its real status
    /// codes; then the response is started and a space goes out every interval.
    /// </summary>
    private Task WhitespaceUntilAsync(HttpResponse response, Task loading) =>
        EveryIntervalUntilAsync(response, loading, () =>
        {
            if (!response.HasStarted)
            {
                Start(response, "application/json");
            }

            return WriteAsync(response, Space);
        });

    private async Task EveryIntervalUntilAsync(HttpResponse response, Task loading, Func<Task> keepAlive)
    {
        var aborted = response.HttpContext.RequestAborted;
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
                await keepAlive();
            }
        }
        finally
        {
            // Ends the pending delay's timer at once instead of at its due time.
            await stop.CancelAsync();
        }
    }

    private static void Start(HttpResponse response, string contentType)
    {
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = contentType;
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
    }

    private static async Task WriteAsync(HttpResponse response, byte[] bytes)
    {
        var aborted = response.HttpContext.RequestAborted;
        await response.Body.WriteAsync(bytes, aborted);
        await response.Body.FlushAsync(aborted);
    }
}
