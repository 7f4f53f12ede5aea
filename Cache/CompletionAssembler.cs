using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace LlmAspire.Cache;

/// <summary>
/// Turns a complete streamed answer (the server-sent events a model server wrote) back into the single completion
/// object the same request would have received without <c>stream</c>, so that one stored entry serves streaming and
/// non-streaming clients alike. Returns null for anything it cannot reproduce exactly: an unfinished or failed stream,
/// or per-token log probabilities (replay would drop them).
/// </summary>
public static class CompletionAssembler
{
    public static byte[]? FromServerSentEvents(ReadOnlySpan<byte> events, CompletionKind kind)
    {
        if (kind == CompletionKind.Embeddings)
        {
            return null;
        }

        var text = Encoding.UTF8.GetString(events);
        JsonObject? first = null;
        JsonNode? usage = null;
        var choices = new SortedDictionary<int, ChoiceState>();
        var done = false;

        foreach (var line in text.Split('\n'))
        {
            if (!line.StartsWith("data:", StringComparison.Ordinal))
            {
                continue;
            }

            var data = line[5..].Trim();
            if (data == "[DONE]")
            {
                done = true;
                break;
            }

            JsonObject chunk;
            try
            {
                chunk = JsonNode.Parse(data) as JsonObject ?? throw new JsonException();
            }
            catch (JsonException)
            {
                return null;
            }

            if (chunk.ContainsKey("error"))
            {
                return null;
            }

            first ??= chunk;
            if (chunk["usage"] is JsonObject chunkUsage)
            {
                usage = chunkUsage.DeepClone();
            }

            foreach (var choice in chunk["choices"]?.AsArray() ?? [])
            {
                if (choice is not JsonObject entry || entry["logprobs"] is JsonObject or JsonArray)
                {
                    return null;
                }

                var index = (int?)entry["index"] ?? 0;
                if (!choices.TryGetValue(index, out var state))
                {
                    choices[index] = state = new ChoiceState();
                }

                if (!state.Add(entry, kind))
                {
                    return null;
                }
            }
        }

        if (!done || first is null || choices.Count == 0 || choices.Values.Any(choice => choice.FinishReason is null))
        {
            return null;
        }

        var completion = new JsonObject
        {
            ["id"] = first["id"]?.DeepClone(),
            ["object"] = kind == CompletionKind.Chat ? "chat.completion" : "text_completion",
            ["created"] = first["created"]?.DeepClone(),
            ["model"] = first["model"]?.DeepClone(),
        };
        if (first["system_fingerprint"] is { } fingerprint)
        {
            completion["system_fingerprint"] = fingerprint.DeepClone();
        }

        completion["choices"] = new JsonArray(choices.Select(entry => (JsonNode)entry.Value.ToChoice(entry.Key, kind)).ToArray());
        if (usage is not null)
        {
            completion["usage"] = usage;
        }

        return JsonSerializer.SerializeToUtf8Bytes(completion);
    }

    private sealed class ChoiceState
    {
        private readonly StringBuilder content = new();
        private readonly StringBuilder reasoning = new();
        private readonly SortedDictionary<int, ToolCallState> toolCalls = new();
        private bool sawContent;

        public string Role { get; private set; } = "assistant";

        public string? FinishReason { get; private set; }

        public bool Add(JsonObject choice, CompletionKind kind)
        {
            if (choice["finish_reason"] is JsonValue reason && reason.TryGetValue<string>(out var finish))
            {
                FinishReason = finish;
            }

            if (kind == CompletionKind.Text)
            {
                sawContent |= choice["text"] is not null;
                content.Append((string?)choice["text"]);
                return true;
            }

            if (choice["delta"] is not JsonObject delta)
            {
                return true;
            }

            foreach (var (name, value) in delta)
            {
                switch (name)
                {
                    case "role":
                        Role = (string?)value ?? Role;
                        break;
                    case "content":
                        sawContent |= value is not null;
                        content.Append((string?)value);
                        break;
                    case "reasoning_content":
                        reasoning.Append((string?)value);
                        break;
                    case "tool_calls":
                        foreach (var call in value?.AsArray() ?? [])
                        {
                            var index = (int?)call?["index"] ?? 0;
                            if (!toolCalls.TryGetValue(index, out var state))
                            {
                                toolCalls[index] = state = new ToolCallState();
                            }

                            state.Add(call!.AsObject());
                        }

                        break;
                    default:
                        // A delta field the cache cannot merge (refusal, audio, …) is not worth guessing about.
                        if (value is not null)
                        {
                            return false;
                        }

                        break;
                }
            }

            return true;
        }

        public JsonObject ToChoice(int index, CompletionKind kind)
        {
            if (kind == CompletionKind.Text)
            {
                return new JsonObject
                {
                    ["index"] = index,
                    ["text"] = content.ToString(),
                    ["logprobs"] = null,
                    ["finish_reason"] = FinishReason,
                };
            }

            var message = new JsonObject
            {
                ["role"] = Role,
                ["content"] = sawContent || toolCalls.Count == 0 ? content.ToString() : null,
            };
            if (reasoning.Length > 0)
            {
                message["reasoning_content"] = reasoning.ToString();
            }

            if (toolCalls.Count > 0)
            {
                message["tool_calls"] = new JsonArray(toolCalls.Values.Select(call => (JsonNode)call.ToJson()).ToArray());
            }

            return new JsonObject
            {
                ["index"] = index,
                ["message"] = message,
                ["logprobs"] = null,
                ["finish_reason"] = FinishReason,
            };
        }
    }

    private sealed class ToolCallState
    {
        private readonly StringBuilder arguments = new();
        private string? id;
        private string type = "function";
        private string? name;

        public void Add(JsonObject call)
        {
            id ??= (string?)call["id"];
            type = (string?)call["type"] ?? type;
            if (call["function"] is JsonObject function)
            {
                name ??= (string?)function["name"];
                arguments.Append((string?)function["arguments"]);
            }
        }

        public JsonObject ToJson() => new()
        {
            ["id"] = id,
            ["type"] = type,
            ["function"] = new JsonObject { ["name"] = name, ["arguments"] = arguments.ToString() },
        };
    }
}
