using System.Buffers;
using System.IO.Pipelines;
using LlmAspire.VllmSimulator.Faults;
using LlmAspire.VllmSimulator.Protocol;
using LlmAspire.VllmSimulator.Requests;

namespace LlmAspire.VllmSimulator.Generation;

/// <summary>
/// Produces a chat or text completion while the request holds a running slot: paces tokens (time to first token, then
/// one per 1/tokens-per-second against absolute due times so delays do not drift), streams or collects them, and
/// injects the request's fault.
/// </summary>
internal static class Generator
{
    public static async Task RunAsync(
        HttpContext context, ApiKind kind, ParsedRequest request, RequestSettings settings, TimeProvider time, CancellationToken cancellation)
    {
        var model = request.Model;
        var capped = request.MaxTokens is { } maxTokens && maxTokens <= settings.OutputTokens;
        var planned = capped ? request.MaxTokens!.Value : settings.OutputTokens;
        var finish = capped ? FinishReason.Length : FinishReason.Stop;
        var fault = settings.Fault;
        var toProduce = fault.FiresAfterTokens ? Math.Min(fault.Value, planned) : planned;
        var created = time.GetUtcNow().ToUnixTimeSeconds();
        var started = time.GetTimestamp();
        var pipe = context.Response.BodyWriter;
        var chunks = request.Stream ? ChunkWriter.Create(pipe, kind, model, created) : default;
        var produced = 0;
        try
        {
            if (request.Stream)
            {
                var tokens = new TokenSequence(request.GenerationSeed);
                while (produced < toProduce)
                {
                    if (settings.HasDelays)
                    {
                        await WaitUntil(time, started, settings.DueTime(produced), cancellation);
                    }

                    if (produced == 0 && kind == ApiKind.ChatCompletions)
                    {
                        chunks.WriteRole();
                        if (!await FlushAsync(pipe, cancellation))
                        {
                            return;
                        }
                    }

                    chunks.WriteToken(tokens.NextWord(first: produced == 0), produced == planned - 1 ? finish : FinishReason.None);
                    produced++;
                    if (!await FlushAsync(pipe, cancellation))
                    {
                        return;
                    }
                }
            }
            else
            {
                // Nothing is visible before the whole answer, so one wait until the last token is due is enough.
                if (settings.HasDelays && toProduce > 0)
                {
                    await WaitUntil(time, started, settings.DueTime(toProduce - 1), cancellation);
                }

                produced = toProduce;
            }

            switch (fault.Kind)
            {
                case FaultKind.StreamErrorAfter:
                    var message = $"Simulated engine failure after {produced} tokens.";
                    if (request.Stream)
                    {
                        chunks.WriteError(message);
                        chunks.WriteDone();
                        await pipe.FlushAsync(cancellation);
                    }
                    else
                    {
                        await OpenAiErrors.Send(context.Response, StatusCodes.Status500InternalServerError, message);
                    }

                    return;
                case FaultKind.CrashAfter:
                    await ConnectionCrash.CrashAsync(context, time);
                    return;
                case FaultKind.Hang or FaultKind.HangAfter:
                    // Ends only through cancellation: the client leaving or the server stopping.
                    await Task.Delay(Timeout.InfiniteTimeSpan, time, cancellation);
                    return;
            }

            if (request.Stream)
            {
                if (request.IncludeUsage)
                {
                    chunks.WriteUsage(request.PromptTokens, produced);
                }

                chunks.WriteDone();
                if (!await FlushAsync(pipe, cancellation))
                {
                    return;
                }
            }
            else
            {
                await SendWholeAsync(context.Response, kind, request, created, produced, finish);
            }

            model.CountCompleted();
        }
        finally
        {
            model.AddGenerationTokens(produced);
        }
    }

    private static ValueTask<FlushResult> SendWholeAsync(
        HttpResponse response, ApiKind kind, ParsedRequest request, long created, int produced, FinishReason finish)
    {
        // The answer is regenerated from its seed here rather than kept across the waits.
        var content = ArrayPool<byte>.Shared.Rent(Math.Max(1, produced * Vocabulary.LongestWord));
        try
        {
            var tokens = new TokenSequence(request.GenerationSeed);
            var length = 0;
            for (var i = 0; i < produced; i++)
            {
                var word = tokens.NextWord(first: i == 0);
                word.CopyTo(content.AsSpan(length));
                length += word.Length;
            }

            return CompletionBody.Send(response, kind, request.Model, created, content.AsSpan(0, length), finish, request.PromptTokens, produced);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(content);
        }
    }

    private static Task WaitUntil(TimeProvider time, long started, TimeSpan due, CancellationToken cancellation)
    {
        var remaining = due - time.GetElapsedTime(started);
        return remaining > TimeSpan.Zero ? Task.Delay(remaining, time, cancellation) : Task.CompletedTask;
    }

    /// <summary>Sends what was written; false once the client is gone, so generation stops at once.</summary>
    private static async ValueTask<bool> FlushAsync(PipeWriter pipe, CancellationToken cancellation)
    {
        var result = await pipe.FlushAsync(cancellation);
        cancellation.ThrowIfCancellationRequested();
        return !result.IsCompleted && !result.IsCanceled;
    }
}
