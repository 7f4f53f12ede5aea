using System.Text.Json;
using System.Text.Json.Nodes;
using LlmAspire.Gateway.OpenAi;

namespace LlmAspire.Gateway.Inference;

/// <summary>The OpenAI operations the gateway forwards, named as in the GenAI semantic conventions.</summary>
public enum InferenceOperation
{
    Chat,
    TextCompletion,
    Embeddings,
}

/// <summary>What routing and accounting need from a request body; everything else is forwarded untouched.</summary>
internal readonly record struct InferenceRequest(string Model, bool Stream, bool ClientRequestedUsage, bool HasStreamOptions, int ObjectStart)
{
    private static readonly JsonReaderOptions ReaderOptions = new() { MaxDepth = 256 };

    public static string OperationName(InferenceOperation operation) => operation switch
    {
        InferenceOperation.Chat => "chat",
        InferenceOperation.TextCompletion => "text_completion",
        _ => "embeddings",
    };

    /// <summary>
    /// Reads the top level of <paramref name="body"/> once, validating the whole document, and picks out <c>model</c>,
    /// <c>stream</c> and <c>stream_options.include_usage</c>. Returns the OpenAI error to answer with when the body is
    /// not acceptable.
    /// </summary>
    public static OpenAiError? TryParse(ReadOnlySpan<byte> body, InferenceOperation operation, out InferenceRequest request)
    {
        request = default;
        var requiredField = operation switch
        {
            InferenceOperation.Chat => "messages",
            InferenceOperation.TextCompletion => "prompt",
            _ => "input",
        };

        string? model = null;
        bool stream = false, includeUsage = false, hasStreamOptions = false, hasRequiredField = false;
        var reader = new Utf8JsonReader(body, ReaderOptions);
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return OpenAiError.InvalidRequest("The request body must be a JSON object.");
            }

            var objectStart = (int)reader.TokenStartIndex;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("model"u8))
                {
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.String)
                    {
                        return OpenAiError.InvalidRequest("'model' must be a string.", "model");
                    }

                    model = reader.GetString();
                }
                else if (reader.ValueTextEquals("stream"u8))
                {
                    reader.Read();
                    if (reader.TokenType is not (JsonTokenType.True or JsonTokenType.False or JsonTokenType.Null))
                    {
                        return OpenAiError.InvalidRequest("'stream' must be a boolean.", "stream");
                    }

                    stream = reader.TokenType == JsonTokenType.True;
                }
                else if (reader.ValueTextEquals("stream_options"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.StartObject)
                    {
                        hasStreamOptions = true;
                        includeUsage = ReadIncludeUsage(ref reader);
                    }
                    else if (reader.TokenType != JsonTokenType.Null)
                    {
                        return OpenAiError.InvalidRequest("'stream_options' must be an object.", "stream_options");
                    }
                }
                else
                {
                    hasRequiredField |= reader.ValueTextEquals(requiredField);
                    reader.Read();
                    reader.Skip();
                }
            }

            // Reading past the end validates that nothing but whitespace follows the object.
            if (reader.Read())
            {
                return OpenAiError.InvalidRequest("The request body must contain a single JSON object.");
            }

            if (string.IsNullOrWhiteSpace(model))
            {
                return OpenAiError.InvalidRequest("You must provide a model parameter.", "model", "missing_required_parameter");
            }

            if (!hasRequiredField)
            {
                return OpenAiError.InvalidRequest($"Missing required parameter: '{requiredField}'.", requiredField, "missing_required_parameter");
            }

            request = new InferenceRequest(model, stream, includeUsage, hasStreamOptions, objectStart);
            return null;
        }
        catch (JsonException exception)
        {
            return OpenAiError.InvalidRequest($"The request body is not valid JSON: {exception.Message}", code: "invalid_json");
        }
    }

    /// <summary>
    /// The body to send upstream: streams always ask for usage (the ledger and metrics need it), everything else is
    /// the client's bytes unchanged.
    /// </summary>
    public ReadOnlyMemory<byte> UpstreamBody(ReadOnlyMemory<byte> body)
    {
        if (!Stream || ClientRequestedUsage)
        {
            return body;
        }

        if (!HasStreamOptions)
        {
            // Splice the option in right after the opening brace: the object has a model, so a comma always fits.
            var injected = "\"stream_options\":{\"include_usage\":true},"u8;
            var result = new byte[body.Length + injected.Length];
            var split = ObjectStart + 1;
            body.Span[..split].CopyTo(result);
            injected.CopyTo(result.AsSpan(split));
            body.Span[split..].CopyTo(result.AsSpan(split + injected.Length));
            return result;
        }

        // Rare: the client sent stream_options without include_usage. Rewrite the document.
        var document = JsonNode.Parse(body.Span)!.AsObject();
        document["stream_options"]!["include_usage"] = true;
        return JsonSerializer.SerializeToUtf8Bytes(document);
    }

    private static bool ReadIncludeUsage(ref Utf8JsonReader reader)
    {
        var includeUsage = false;
        var depth = reader.CurrentDepth;
        while (reader.Read() && !(reader.TokenType == JsonTokenType.EndObject && reader.CurrentDepth == depth))
        {
            if (reader.TokenType == JsonTokenType.PropertyName && reader.CurrentDepth == depth + 1 && reader.ValueTextEquals("include_usage"u8))
            {
                reader.Read();
                includeUsage = reader.TokenType == JsonTokenType.True;
            }
            else if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
            {
                reader.Skip();
            }
        }

        return includeUsage;
    }
}
