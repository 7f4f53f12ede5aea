using System.Buffers;
using System.IO.Pipelines;
using LlmAspire.VllmSimulator.Protocol;
using LlmAspire.VllmSimulator.Requests;

namespace LlmAspire.VllmSimulator.Generation;

/// <summary>
/// Writes the server-sent events of one streamed response byte for byte as vLLM does (compact JSON, <c>data: …\n\n</c>).
/// The part every chunk shares (id, object, created, model) is encoded once per request; a token chunk is then a few
/// copies into the response pipe, with no allocation and no JSON serializer.
/// </summary>
internal readonly struct ChunkWriter
{
    public const string ContentType = "text/event-stream; charset=utf-8";

    /// <summary>Room for the fixed JSON around a word and for up to three 20-digit numbers.</summary>
    private const int ChunkOverhead = 192;

    private readonly PipeWriter _pipe;
    private readonly byte[] _prefix;
    private readonly bool _chat;

    private ChunkWriter(PipeWriter pipe, byte[] prefix, bool chat)
    {
        _pipe = pipe;
        _prefix = prefix;
        _chat = chat;
    }

    public static ChunkWriter Create(PipeWriter pipe, ApiKind kind, ServedModel model, long created)
    {
        var chat = kind == ApiKind.ChatCompletions;
        Span<byte> id = stackalloc byte[32 + ResponseIds.HexDigits];
        var idLength = ResponseIds.Write(chat ? ResponseIds.Chat : ResponseIds.Completion, id);
        // 128 bytes hold the fixed JSON around id and model, and the timestamp.
        var prefix = new byte[128 + idLength + model.QuotedJsonName.Length];
        var text = new ByteAppender(prefix);
        text.Append("data: {\"id\":\""u8);
        text.Append(id[..idLength]);
        text.Append(chat ? "\",\"object\":\"chat.completion.chunk\",\"created\":"u8 : "\",\"object\":\"text_completion\",\"created\":"u8);
        text.Append(created);
        text.Append(",\"model\":"u8);
        text.Append(model.QuotedJsonName);
        text.Append(",\"choices\":["u8);
        return new ChunkWriter(pipe, prefix[..text.Length], chat);
    }

    /// <summary>The chat stream's first event: the assistant role with empty content.</summary>
    public void WriteRole()
    {
        var text = Begin(0);
        text.Append("{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n"u8);
        _pipe.Advance(text.Length);
    }

    public void WriteToken(ReadOnlySpan<byte> word, FinishReason finish)
    {
        var text = Begin(word.Length);
        text.Append(_chat ? "{\"index\":0,\"delta\":{\"content\":\""u8 : "{\"index\":0,\"text\":\""u8);
        text.Append(word);
        text.Append(_chat ? "\"},\"logprobs\":null,\"finish_reason\":"u8 : "\",\"logprobs\":null,\"finish_reason\":"u8);
        text.Append(finish.Json());
        text.Append("}]}\n\n"u8);
        _pipe.Advance(text.Length);
    }

    /// <summary>The usage event that <c>stream_options.include_usage</c> asks for: no choices, only usage.</summary>
    public void WriteUsage(int promptTokens, int completionTokens)
    {
        var text = Begin(0);
        text.Append("],\"usage\":{\"prompt_tokens\":"u8);
        text.Append(promptTokens);
        text.Append(",\"total_tokens\":"u8);
        text.Append(promptTokens + (long)completionTokens);
        text.Append(",\"completion_tokens\":"u8);
        text.Append(completionTokens);
        text.Append("}}\n\n"u8);
        _pipe.Advance(text.Length);
    }

    /// <summary>vLLM's in-stream error event, sent under HTTP 200 when the engine fails mid-generation.</summary>
    public void WriteError(string message)
    {
        var json = JsonBody.Start();
        json.WriteStartObject();
        json.WriteStartObject("error"u8);
        json.WriteString("object"u8, "error"u8);
        json.WriteString("message"u8, message);
        json.WriteString("type"u8, "InternalServerError"u8);
        json.WriteNull("param"u8);
        json.WriteNumber("code"u8, StatusCodes.Status500InternalServerError);
        json.WriteEndObject();
        json.WriteEndObject();
        json.Flush();
        _pipe.Write("data: "u8);
        _pipe.Write(JsonBody.Written);
        _pipe.Write("\n\n"u8);
    }

    public void WriteDone() => _pipe.Write("data: [DONE]\n\n"u8);

    private ByteAppender Begin(int wordLength)
    {
        var text = new ByteAppender(_pipe.GetSpan(_prefix.Length + wordLength + ChunkOverhead));
        text.Append(_prefix);
        return text;
    }
}
