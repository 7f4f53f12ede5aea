using System.Buffers;
using System.Runtime.InteropServices;
using LlmAspire.VllmSimulator.Faults;
using LlmAspire.VllmSimulator.Generation;
using LlmAspire.VllmSimulator.Protocol;
using LlmAspire.VllmSimulator.Requests;

namespace LlmAspire.VllmSimulator.Embeddings;

/// <summary>
/// Answers <c>/v1/embeddings</c> with deterministic unit vectors (seeded by model and input text) after the time to
/// first token, which stands for the prefill an embedding costs. Faults that fire "after n tokens" fire there.
/// </summary>
internal static class EmbeddingResponder
{
    public static async Task RunAsync(
        HttpContext context, ParsedRequest request, RequestSettings settings, int dimensions, TimeProvider time, CancellationToken cancellation)
    {
        if (settings.TimeToFirstToken > TimeSpan.Zero)
        {
            await Task.Delay(settings.TimeToFirstToken, time, cancellation);
        }

        switch (settings.Fault.Kind)
        {
            case FaultKind.StreamErrorAfter:
                await OpenAiErrors.Send(context.Response, StatusCodes.Status500InternalServerError, "Simulated engine failure.");
                return;
            case FaultKind.CrashAfter:
                await ConnectionCrash.CrashAsync(context, time);
                return;
            case FaultKind.Hang or FaultKind.HangAfter:
                await Task.Delay(Timeout.InfiniteTimeSpan, time, cancellation);
                return;
        }

        await Send(context.Response, request, dimensions, time.GetUtcNow().ToUnixTimeSeconds());
        request.Model.CountCompleted();
    }

    private static ValueTask<System.IO.Pipelines.FlushResult> Send(HttpResponse response, ParsedRequest request, int dimensions, long created)
    {
        var model = request.Model;
        Span<byte> id = stackalloc byte[32 + ResponseIds.HexDigits];
        var idLength = ResponseIds.Write(ResponseIds.Embedding, id);
        var vector = ArrayPool<float>.Shared.Rent(dimensions);
        try
        {
            var json = JsonBody.Start();
            json.WriteStartObject();
            json.WriteString("id"u8, id[..idLength]);
            json.WriteString("object"u8, "list"u8);
            json.WriteNumber("created"u8, created);
            json.WriteString("model"u8, model.JsonName);
            json.WriteStartArray("data"u8);
            var inputs = request.EmbeddingInputs!;
            for (var index = 0; index < inputs.Count; index++)
            {
                var components = vector.AsSpan(0, dimensions);
                Fill(components, TextHash.Mix(TextHash.Append(inputs[index].Hash, model.NameHash)));
                json.WriteStartObject();
                json.WriteNumber("index"u8, index);
                json.WriteString("object"u8, "embedding"u8);
                if (request.Base64Embeddings)
                {
                    // Little-endian float32 bytes, as vLLM encodes them for encoding_format=base64.
                    json.WriteBase64String("embedding"u8, MemoryMarshal.AsBytes((ReadOnlySpan<float>)components));
                }
                else
                {
                    json.WriteStartArray("embedding"u8);
                    foreach (var component in components)
                    {
                        json.WriteNumberValue(component);
                    }

                    json.WriteEndArray();
                }

                json.WriteEndObject();
            }

            json.WriteEndArray();
            CompletionBody.WriteUsage(json, request.PromptTokens, 0);
            json.WriteEndObject();
            return JsonBody.Send(response, StatusCodes.Status200OK);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(vector);
        }
    }

    /// <summary>Pseudo-random components scaled to unit length, so cosine similarity behaves as with a real model.</summary>
    private static void Fill(Span<float> components, ulong seed)
    {
        var random = new TokenSequence(seed);
        var sumOfSquares = 0.0;
        for (var i = 0; i < components.Length; i++)
        {
            components[i] = random.NextComponent();
            sumOfSquares += components[i] * components[i];
        }

        var scale = sumOfSquares > 0 ? (float)(1 / Math.Sqrt(sumOfSquares)) : 0f;
        for (var i = 0; i < components.Length; i++)
        {
            components[i] *= scale;
        }
    }
}
