using System.Text.Json;
using LlmAspire.Gateway.Api.OpenAi;

namespace LlmAspire.Gateway.Api.Requests;

/// <summary>
/// What routing and accounting need from a request body; everything else is forwarded untouched. <see cref="UsageEdit"/>
/// is where the body is changed, byte for byte, to ask a stream for its usage: nothing else of it is parsed again or
/// re-serialised, so what the client sent (repeated members elsewhere, numbers no machine type holds) reaches the
/// model server as it was.
/// </summary>
internal readonly record struct InferenceRequest(string Model, bool Stream, bool ClientRequestedUsage, BodyEdit UsageEdit)
{
    private static readonly JsonReaderOptions ReaderOptions = new() { MaxDepth = 256 };

    /// <summary>
    /// Reads the top level of <paramref name="body"/> once, validating the whole document, and picks out <c>model</c>,
    /// <c>stream</c> and <c>stream_options.include_usage</c>. Returns the OpenAI error to answer with when the body is
    /// not acceptable: not one JSON object, a field the gateway reads missing, of the wrong type, not valid text, or
    /// given twice (the gateway and the model server could then each take a different one).
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
        bool stream = false, seenStream = false, includeUsage = false, hasRequiredField = false;
        BodyEdit? usageEdit = null;
        var reader = new Utf8JsonReader(body, ReaderOptions);
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return OpenAiError.InvalidRequest("The request body must be a JSON object.");
            }

            // The object has a model, so a member and a comma always fit right after its opening brace.
            var requestUsage = new BodyEdit((int)reader.TokenStartIndex + 1, 0, "\"stream_options\":{\"include_usage\":true},"u8.ToArray());
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("model"u8))
                {
                    reader.Read();
                    if (model is not null)
                    {
                        return GivenTwice("model");
                    }

                    if (reader.TokenType != JsonTokenType.String)
                    {
                        return OpenAiError.InvalidRequest("'model' must be a string.", "model");
                    }

                    model = ReadText(ref reader);
                    if (model is null)
                    {
                        return OpenAiError.InvalidRequest("'model' must be valid UTF-8 text without unpaired surrogate escapes.", "model");
                    }
                }
                else if (reader.ValueTextEquals("stream"u8))
                {
                    reader.Read();
                    if (seenStream)
                    {
                        return GivenTwice("stream");
                    }

                    if (reader.TokenType is not (JsonTokenType.True or JsonTokenType.False or JsonTokenType.Null))
                    {
                        return OpenAiError.InvalidRequest("'stream' must be a boolean.", "stream");
                    }

                    seenStream = true;
                    stream = reader.TokenType == JsonTokenType.True;
                }
                else if (reader.ValueTextEquals("stream_options"u8))
                {
                    reader.Read();
                    if (usageEdit is not null)
                    {
                        return GivenTwice("stream_options");
                    }

                    if (reader.TokenType == JsonTokenType.Null)
                    {
                        usageEdit = new BodyEdit((int)reader.TokenStartIndex, 4, "{\"include_usage\":true}"u8.ToArray());
                    }
                    else if (reader.TokenType != JsonTokenType.StartObject)
                    {
                        return OpenAiError.InvalidRequest("'stream_options' must be an object.", "stream_options");
                    }
                    else if (ReadStreamOptions(ref reader, out includeUsage) is { } edit)
                    {
                        usageEdit = edit;
                    }
                    else
                    {
                        return GivenTwice("stream_options.include_usage");
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

            request = new InferenceRequest(model, stream, includeUsage, usageEdit ?? requestUsage);
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
    public ReadOnlyMemory<byte> UpstreamBody(ReadOnlyMemory<byte> body) => !Stream || ClientRequestedUsage ? body : UsageEdit.ApplyTo(body.Span);

    private static OpenAiError GivenTwice(string field) =>
        OpenAiError.InvalidRequest($"'{field}' is given more than once.", field, "duplicate_parameter");

    /// <summary>The string the reader is on, or null when it is not valid text (invalid UTF-8, an unpaired surrogate escape).</summary>
    private static string? ReadText(ref Utf8JsonReader reader)
    {
        try
        {
            return reader.GetString();
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>
    /// Reads a <c>stream_options</c> object and returns the edit that makes it ask for usage: its <c>include_usage</c>
    /// value replaced by <c>true</c>, or the member added. Null when <c>include_usage</c> is given twice.
    /// </summary>
    private static BodyEdit? ReadStreamOptions(ref Utf8JsonReader reader, out bool includeUsage)
    {
        includeUsage = false;
        var depth = reader.CurrentDepth;
        var afterBrace = (int)reader.TokenStartIndex + 1;
        BodyEdit? replaceValue = null;
        var empty = true;
        while (reader.Read() && !(reader.TokenType == JsonTokenType.EndObject && reader.CurrentDepth == depth))
        {
            empty = false;
            var isIncludeUsage = reader.ValueTextEquals("include_usage"u8);
            reader.Read();
            if (isIncludeUsage)
            {
                if (replaceValue is not null)
                {
                    return null;
                }

                includeUsage = reader.TokenType == JsonTokenType.True;
                var start = (int)reader.TokenStartIndex;
                reader.Skip();
                replaceValue = new BodyEdit(start, (int)reader.BytesConsumed - start, "true"u8.ToArray());
            }
            else
            {
                reader.Skip();
            }
        }

        return replaceValue ?? new BodyEdit(afterBrace, 0, empty ? "\"include_usage\":true"u8.ToArray() : "\"include_usage\":true,"u8.ToArray());
    }
}

/// <summary>Bytes of a body replaced: <see cref="Length"/> bytes at <see cref="Offset"/> by <see cref="Insert"/>.</summary>
internal readonly record struct BodyEdit(int Offset, int Length, byte[] Insert)
{
    public byte[] ApplyTo(ReadOnlySpan<byte> body)
    {
        var result = new byte[body.Length - Length + Insert.Length];
        body[..Offset].CopyTo(result);
        Insert.CopyTo(result, Offset);
        body[(Offset + Length)..].CopyTo(result.AsSpan(Offset + Insert.Length));
        return result;
    }
}
