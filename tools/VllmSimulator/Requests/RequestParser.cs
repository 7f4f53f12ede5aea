using System.Buffers;
using System.Text.Json;

namespace LlmAspire.VllmSimulator.Requests;

/// <summary>
/// Reads chat, completion and embedding request bodies with <see cref="Utf8JsonReader"/>: no reflection, no DOM and no
/// strings for the prompt text, which is only hashed and counted.
/// </summary>
internal static class RequestParser
{
    public static bool TryParse(in ReadOnlySequence<byte> body, ApiKind kind, SimulatorState state, out ParsedRequest request, out RequestError error)
    {
        request = default;
        try
        {
            return TryParseCore(body, kind, state, out request, out error);
        }
        catch (JsonException ex)
        {
            error = BadRequest($"Request body is not valid JSON: {ex.Message}", null);
            return false;
        }
        catch (InvalidOperationException ex)
        {
            // Unescaping a string that has no UTF-16 form: an unpaired surrogate escape, or bytes that are not UTF-8.
            error = BadRequest($"Request body holds text that is not valid: {ex.Message}", null);
            return false;
        }
    }

    private static bool TryParseCore(in ReadOnlySequence<byte> body, ApiKind kind, SimulatorState state, out ParsedRequest request, out RequestError error)
    {
        request = default;
        var reader = new Utf8JsonReader(body);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            return Fail(out error, "Request body must be a JSON object.", null);
        }

        ServedModel? model = null;
        string? unknownModel = null;
        var text = new TextStats();
        var sawPrompt = false;
        List<EmbeddingInput>? inputs = null;
        bool stream = false, includeUsage = false, base64 = false;
        int? maxTokens = null, maxCompletionTokens = null;
        long? seed = null;

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("model"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.String)
                {
                    model = FindModel(ref reader, state);
                    unknownModel = model is null ? reader.GetString() : null;
                }
                else if (reader.TokenType != JsonTokenType.Null)
                {
                    return Fail(out error, "model must be a string.", "model");
                }
            }
            else if (kind == ApiKind.ChatCompletions && reader.ValueTextEquals("messages"u8))
            {
                reader.Read();
                if (!PromptReader.ReadMessages(ref reader, ref text))
                {
                    return Fail(out error, "messages must be an array of message objects.", "messages");
                }

                sawPrompt = true;
            }
            else if (kind == ApiKind.Completions && reader.ValueTextEquals("prompt"u8))
            {
                reader.Read();
                if (!PromptReader.ReadStringOrStrings(ref reader, ref text))
                {
                    return Fail(out error, "prompt must be a string or an array of strings.", "prompt");
                }

                sawPrompt = true;
            }
            else if (kind == ApiKind.Embeddings && reader.ValueTextEquals("input"u8))
            {
                reader.Read();
                inputs = PromptReader.ReadEmbeddingInputs(ref reader);
                if (inputs is null)
                {
                    return Fail(out error, "input must be a string or a non-empty array of strings.", "input");
                }
            }
            else if (kind == ApiKind.Embeddings && reader.ValueTextEquals("encoding_format"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.String && reader.ValueTextEquals("base64"u8))
                {
                    base64 = true;
                }
                else if (!(reader.TokenType == JsonTokenType.Null || (reader.TokenType == JsonTokenType.String && reader.ValueTextEquals("float"u8))))
                {
                    return Fail(out error, "encoding_format must be \"float\" or \"base64\".", "encoding_format");
                }
            }
            else if (reader.ValueTextEquals("stream"u8))
            {
                reader.Read();
                if (!TryReadOptionalBool(ref reader, ref stream))
                {
                    return Fail(out error, "stream must be a boolean.", "stream");
                }
            }
            else if (reader.ValueTextEquals("stream_options"u8))
            {
                reader.Read();
                if (!ReadStreamOptions(ref reader, ref includeUsage))
                {
                    return Fail(out error, "stream_options must be an object such as {\"include_usage\":true}.", "stream_options");
                }
            }
            else if (reader.ValueTextEquals("max_tokens"u8))
            {
                reader.Read();
                if (!TryReadOptionalTokenLimit(ref reader, ref maxTokens))
                {
                    return Fail(out error, "max_tokens must be an integer of at least 1.", "max_tokens");
                }
            }
            else if (reader.ValueTextEquals("max_completion_tokens"u8))
            {
                reader.Read();
                if (!TryReadOptionalTokenLimit(ref reader, ref maxCompletionTokens))
                {
                    return Fail(out error, "max_completion_tokens must be an integer of at least 1.", "max_completion_tokens");
                }
            }
            else if (reader.ValueTextEquals("seed"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var value))
                {
                    seed = value;
                }
                else if (reader.TokenType != JsonTokenType.Null)
                {
                    return Fail(out error, "seed must be an integer.", "seed");
                }
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }

        // Anything after the object other than whitespace throws here.
        reader.Read();

        if (unknownModel is not null)
        {
            error = new RequestError(StatusCodes.Status404NotFound, $"The model `{unknownModel}` does not exist.", "model");
            return false;
        }

        switch (kind)
        {
            case ApiKind.ChatCompletions when !sawPrompt:
                return Fail(out error, "messages is required.", "messages");
            case ApiKind.Completions when !sawPrompt:
                return Fail(out error, "prompt is required.", "prompt");
            case ApiKind.Embeddings when inputs is null:
                return Fail(out error, "input is required.", "input");
        }

        // Like vLLM: a request without a model goes to the first served model; max_completion_tokens wins.
        request = new ParsedRequest(
            model ?? state.Models[0],
            stream,
            includeUsage,
            maxCompletionTokens ?? maxTokens,
            text.Hash,
            seed,
            inputs?.Sum(input => input.Tokens) ?? Math.Max(1, text.Words),
            base64,
            inputs);
        error = default;
        return true;
    }

    private static ServedModel? FindModel(ref Utf8JsonReader reader, SimulatorState state)
    {
        foreach (var model in state.Models)
        {
            if (reader.ValueTextEquals(model.Utf8Name))
            {
                return model;
            }
        }

        return null;
    }

    private static bool ReadStreamOptions(ref Utf8JsonReader reader, ref bool includeUsage)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return true;
        }

        if (reader.TokenType != JsonTokenType.StartObject)
        {
            return false;
        }

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var isIncludeUsage = reader.ValueTextEquals("include_usage"u8);
            reader.Read();
            if (!isIncludeUsage)
            {
                reader.Skip();
            }
            else if (!TryReadOptionalBool(ref reader, ref includeUsage))
            {
                return false;
            }
        }

        return true;
    }

    private static bool TryReadOptionalBool(ref Utf8JsonReader reader, ref bool value)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.True:
                value = true;
                return true;
            case JsonTokenType.False:
                value = false;
                return true;
            default:
                return reader.TokenType == JsonTokenType.Null;
        }
    }

    private static bool TryReadOptionalTokenLimit(ref Utf8JsonReader reader, ref int? value)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return true;
        }

        if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt32(out var limit) || limit < 1)
        {
            return false;
        }

        value = limit;
        return true;
    }

    private static bool Fail(out RequestError error, string message, string? param)
    {
        error = BadRequest(message, param);
        return false;
    }

    private static RequestError BadRequest(string message, string? param) =>
        new(StatusCodes.Status400BadRequest, message, param);
}
