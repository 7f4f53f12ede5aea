using System.Text.Json;
using System.Text.Json.Nodes;

namespace LlmAspire.Cache;

/// <summary>
/// Writes a stored completion object as the server-sent events a model server would have streamed for it: the same
/// text and tool calls, delivered at once. The usage chunk is included only when the client asked for it
/// (<c>stream_options.include_usage</c>), as OpenAI does.
/// </summary>
public static class StreamReplay
{
    private static readonly byte[] Done = "data: [DONE]\n\n"u8.ToArray();

    public static byte[] ToServerSentEvents(ReadOnlySpan<byte> completion, CompletionKind kind, bool includeUsage)
    {
        var stored = JsonNode.Parse(completion)!.AsObject();
        var chunks = new List<JsonObject>();
        foreach (var choice in stored["choices"]?.AsArray() ?? [])
        {
            var index = (int?)choice?["index"] ?? 0;
            var finishReason = choice?["finish_reason"]?.DeepClone();
            if (kind == CompletionKind.Text)
            {
                chunks.Add(Chunk(stored, kind, new JsonObject { ["index"] = index, ["text"] = (string?)choice?["text"] ?? "", ["logprobs"] = null, ["finish_reason"] = null }));
                chunks.Add(Chunk(stored, kind, new JsonObject { ["index"] = index, ["text"] = "", ["logprobs"] = null, ["finish_reason"] = finishReason }));
                continue;
            }

            var message = choice?["message"] as JsonObject ?? [];
            chunks.Add(Chunk(stored, kind, ChatChoice(index, new JsonObject { ["role"] = (string?)message["role"] ?? "assistant", ["content"] = "" }, null)));
            var delta = new JsonObject();
            foreach (var (name, value) in message)
            {
                if (name == "tool_calls" && value is JsonArray calls)
                {
                    delta[name] = new JsonArray(calls.Select((call, position) => (JsonNode)WithIndex(call!.AsObject(), position)).ToArray());
                }
                else if (name != "role" && value is not null)
                {
                    delta[name] = value.DeepClone();
                }
            }

            if (delta.Count > 0)
            {
                chunks.Add(Chunk(stored, kind, ChatChoice(index, delta, null)));
            }

            chunks.Add(Chunk(stored, kind, ChatChoice(index, [], finishReason)));
        }

        if (includeUsage && stored["usage"] is { } usage)
        {
            var last = Chunk(stored, kind, null);
            last["usage"] = usage.DeepClone();
            chunks.Add(last);
        }

        using var buffer = new MemoryStream();
        foreach (var chunk in chunks)
        {
            buffer.Write("data: "u8);
            buffer.Write(JsonSerializer.SerializeToUtf8Bytes(chunk));
            buffer.Write("\n\n"u8);
        }

        buffer.Write(Done);
        return buffer.ToArray();
    }

    private static JsonObject Chunk(JsonObject stored, CompletionKind kind, JsonObject? choice)
    {
        var chunk = new JsonObject
        {
            ["id"] = stored["id"]?.DeepClone(),
            ["object"] = kind == CompletionKind.Chat ? "chat.completion.chunk" : "text_completion",
            ["created"] = stored["created"]?.DeepClone(),
            ["model"] = stored["model"]?.DeepClone(),
        };
        if (stored["system_fingerprint"] is { } fingerprint)
        {
            chunk["system_fingerprint"] = fingerprint.DeepClone();
        }

        chunk["choices"] = choice is null ? new JsonArray() : new JsonArray(choice);
        return chunk;
    }

    private static JsonObject ChatChoice(int index, JsonObject delta, JsonNode? finishReason) => new()
    {
        ["index"] = index,
        ["delta"] = delta,
        ["logprobs"] = null,
        ["finish_reason"] = finishReason,
    };

    private static JsonObject WithIndex(JsonObject call, int position)
    {
        var indexed = new JsonObject { ["index"] = position };
        foreach (var (name, value) in call)
        {
            indexed[name] = value?.DeepClone();
        }

        return indexed;
    }
}
