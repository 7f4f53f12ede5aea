using System.Text.Json;

namespace LlmAspire.Gateway.Api.Requests;

/// <summary>Token counts a model server reported in a response's <c>usage</c> object.</summary>
internal readonly record struct TokenUsage(long InputTokens, long OutputTokens)
{
    /// <summary>Reads a <c>usage</c> object starting at its opening brace; trailing bytes after it are ignored.</summary>
    public static bool TryRead(ReadOnlySpan<byte> json, out TokenUsage usage)
    {
        usage = default;
        var reader = new Utf8JsonReader(json, isFinalBlock: false, state: default);
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }

            return TryReadObject(ref reader, out usage);
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>
    /// Reads one server-sent event (<c>data: {...}</c>) and reports its usage, and whether it is the usage-only chunk
    /// (empty <c>choices</c>) that <c>stream_options.include_usage</c> adds at the end of a stream.
    /// </summary>
    public static bool TryReadEvent(ReadOnlySpan<byte> serverSentEvent, out TokenUsage usage, out bool usageOnly)
    {
        usage = default;
        usageOnly = false;
        var data = serverSentEvent.IndexOf("data:"u8);
        if (data < 0)
        {
            return false;
        }

        var json = serverSentEvent[(data + 5)..];
        var lineEnd = json.IndexOf((byte)'\n');
        if (lineEnd >= 0)
        {
            json = json[..lineEnd];
        }

        var found = false;
        var choicesEmpty = false;
        var reader = new Utf8JsonReader(json);
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("usage"u8))
                {
                    reader.Read();
                    found = reader.TokenType == JsonTokenType.StartObject && TryReadObject(ref reader, out usage);
                    if (reader.TokenType != JsonTokenType.EndObject)
                    {
                        reader.Skip();
                    }
                }
                else if (reader.ValueTextEquals("choices"u8))
                {
                    reader.Read();
                    var start = (int)reader.TokenStartIndex;
                    reader.Skip();
                    choicesEmpty = reader.TokenType == JsonTokenType.EndArray
                        && json[(start + 1)..(int)reader.TokenStartIndex].Trim(" \t\r\n"u8).IsEmpty;
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }
        }
        catch (JsonException)
        {
            return false;
        }

        usageOnly = found && choicesEmpty;
        return found;
    }

    private static bool TryReadObject(ref Utf8JsonReader reader, out TokenUsage usage)
    {
        long input = -1, output = -1;
        var depth = reader.CurrentDepth;
        while (reader.Read() && !(reader.TokenType == JsonTokenType.EndObject && reader.CurrentDepth == depth))
        {
            if (reader.TokenType != JsonTokenType.PropertyName)
            {
                continue;
            }

            if (reader.ValueTextEquals("prompt_tokens"u8) || reader.ValueTextEquals("input_tokens"u8))
            {
                reader.Read();
                input = reader.TokenType == JsonTokenType.Number ? reader.GetInt64() : input;
            }
            else if (reader.ValueTextEquals("completion_tokens"u8) || reader.ValueTextEquals("output_tokens"u8))
            {
                reader.Read();
                output = reader.TokenType == JsonTokenType.Number ? reader.GetInt64() : output;
            }
            else if (!reader.Read() || !reader.TrySkip())
            {
                // The object continues past the bytes at hand.
                break;
            }
        }

        // Embeddings report only prompt tokens.
        usage = new TokenUsage(Math.Max(input, 0), Math.Max(output, 0));
        return input >= 0;
    }
}
