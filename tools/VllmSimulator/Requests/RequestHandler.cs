using System.IO.Pipelines;
using LlmAspire.VllmSimulator.Embeddings;
using LlmAspire.VllmSimulator.Faults;
using LlmAspire.VllmSimulator.Generation;
using LlmAspire.VllmSimulator.Protocol;
using LlmAspire.VllmSimulator.SleepMode;
using Microsoft.Extensions.Options;

namespace LlmAspire.VllmSimulator.Requests;

/// <summary>
/// The path every inference request takes: read and check the body, apply x-sim-* overrides, refuse it while the
/// engine sleeps, apply an immediate error fault, wait for a running slot in the model's FIFO queue, then generate. A slot is held by a <c>finally</c>, so a
/// client that leaves at any point (RequestAborted) releases it at once.
/// </summary>
internal sealed class RequestHandler(
    SimulatorState state, EngineSleep sleep, IOptions<SimulatorOptions> options, TimeProvider time, IHostApplicationLifetime lifetime)
{
    private readonly RequestSettings _defaults = RequestSettings.FromOptions(options.Value);
    private readonly int _embeddingDimensions = options.Value.EmbeddingDimensions;

    public async Task HandleAsync(HttpContext context, ApiKind kind)
    {
        var body = context.Request.BodyReader;
        ReadResult read;
        while (true)
        {
            read = await body.ReadAsync(context.RequestAborted);
            if (read.IsCompleted || read.IsCanceled)
            {
                break;
            }

            body.AdvanceTo(read.Buffer.Start, read.Buffer.End);
        }

        var parsed = RequestParser.TryParse(read.Buffer, kind, state, out var request, out var error);
        body.AdvanceTo(read.Buffer.End);
        if (!parsed)
        {
            await OpenAiErrors.Send(context.Response, error.StatusCode, error.Message, error.Param);
            return;
        }

        if (_defaults.WithHeaders(context.Request.Headers, out var settings) is { } headerError)
        {
            await OpenAiErrors.Send(context.Response, StatusCodes.Status400BadRequest, headerError);
            return;
        }

        if (sleep.Refusal() is var (status, message))
        {
            await OpenAiErrors.Send(context.Response, status, message);
            return;
        }

        if (settings.Fault.Kind == FaultKind.Error)
        {
            await OpenAiErrors.Send(context.Response, settings.Fault.Value, $"Simulated error {settings.Fault.Value}.");
            return;
        }

        var model = request.Model;
        var lease = model.Scheduler.AttemptAcquire();

        // Only a request that can wait (queued, paced or hanging) pays for a token that also fires when the server
        // stops; the zero-delay hot path uses RequestAborted alone.
        using var stopping = lease.IsAcquired && !settings.HasDelays && !settings.Fault.Hangs
            ? null
            : CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, lifetime.ApplicationStopping);
        var cancellation = stopping?.Token ?? context.RequestAborted;
        try
        {
            // vLLM (uvicorn) sends a stream's headers before the request is scheduled; a hang sends nothing at all.
            if (request.Stream && kind != ApiKind.Embeddings && settings.Fault.Kind != FaultKind.Hang)
            {
                context.Response.ContentType = ChunkWriter.ContentType;
                await context.Response.BodyWriter.FlushAsync(cancellation);
            }

            if (!lease.IsAcquired)
            {
                lease = await model.Scheduler.AcquireAsync(1, cancellation);
            }

            model.AddPromptTokens(request.PromptTokens);
            if (kind == ApiKind.Embeddings)
            {
                await EmbeddingResponder.RunAsync(context, request, settings, _embeddingDimensions, time, cancellation);
            }
            else
            {
                await Generator.RunAsync(context, kind, request, settings, time, cancellation);
            }
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            // A client that left needs nothing more; on shutdown, cut the connection as a stopped server would.
            if (!context.RequestAborted.IsCancellationRequested)
            {
                context.Abort();
            }
        }
        finally
        {
            lease.Dispose();
        }
    }
}
