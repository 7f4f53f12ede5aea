using System.IO.Pipelines;
using System.Text.Json;
using LlmAspire.VllmSimulator.Protocol;
using LlmAspire.VllmSimulator.Requests;

namespace LlmAspire.VllmSimulator.Generation;

/// <summary>Non-streamed chat and text completion bodies, in vLLM's field order.</summary>
internal static class CompletionBody
{
    public static ValueTask<FlushResult> Send(
        HttpResponse response, ApiKind kind, ServedModel model, long created, ReadOnlySpan<byte> content, FinishReason finish,
        int promptTokens, int completionTokens)
    {
        var chat = kind == ApiKind.ChatCompletions;
        Span<byte> id = stackalloc byte[32 + ResponseIds.HexDigits];
        var idLength = ResponseIds.Write(chat ? ResponseIds.Chat : ResponseIds.Completion, id);

        var json = JsonBody.Start();
        json.WriteStartObject();
        json.WriteString("id"u8, id[..idLength]);
        json.WriteString("object"u8, chat ? "chat.completion"u8 : "text_completion"u8);
        json.WriteNumber("created"u8, created);
        json.WriteString("model"u8, model.JsonName);
        json.WriteStartArray("choices"u8);
        json.WriteStartObject();
        json.WriteNumber("index"u8, 0);
        if (chat)
        {
            json.WriteStartObject("message"u8);
            json.WriteString("role"u8, "assistant"u8);
            json.WriteString("content"u8, content);
            json.WriteEndObject();
        }
        else
        {
            json.WriteString("text"u8, content);
        }

        json.WriteNull("logprobs"u8);
        json.WriteString("finish_reason"u8, finish.Text());
        json.WriteEndObject();
        json.WriteEndArray();
        WriteUsage(json, promptTokens, completionTokens);
        json.WriteEndObject();
        return JsonBody.Send(response, StatusCodes.Status200OK);
    }

    public static void WriteUsage(Utf8JsonWriter json, int promptTokens, int completionTokens)
    {
        json.WriteStartObject("usage"u8);
        json.WriteNumber("prompt_tokens"u8, promptTokens);
        json.WriteNumber("total_tokens"u8, promptTokens + (long)completionTokens);
        json.WriteNumber("completion_tokens"u8, completionTokens);
        json.WriteEndObject();
    }
}
