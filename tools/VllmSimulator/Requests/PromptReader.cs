using System.Text.Json;

namespace LlmAspire.VllmSimulator.Requests;

/// <summary>
/// Reads the text of a request (chat messages, a completion prompt, embedding inputs) into <see cref="TextStats"/>,
/// which only hashes and counts it. Each method starts at the value's first token; false (or null) when the value is
/// not of the documented shape.
/// </summary>
internal static class PromptReader
{
    /// <summary>Chat messages: an array of objects whose "content" counts.</summary>
    public static bool ReadMessages(ref Utf8JsonReader reader, ref TextStats text)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            return false;
        }

        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isContent = reader.ValueTextEquals("content"u8);
                reader.Read();
                if (!isContent)
                {
                    reader.Skip();
                }
                else if (!ReadContent(ref reader, ref text))
                {
                    return false;
                }
            }
        }

        return true;
    }

    /// <summary>Message content: a string, null, or an array of parts whose "text" fields count.</summary>
    private static bool ReadContent(ref Utf8JsonReader reader, ref TextStats text)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.String:
                text.Add(ref reader);
                return true;
            case JsonTokenType.Null:
                return true;
            case JsonTokenType.StartArray:
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    if (reader.TokenType != JsonTokenType.StartObject)
                    {
                        return false;
                    }

                    while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                    {
                        var isText = reader.ValueTextEquals("text"u8);
                        reader.Read();
                        if (isText && reader.TokenType == JsonTokenType.String)
                        {
                            text.Add(ref reader);
                        }
                        else
                        {
                            reader.Skip();
                        }
                    }
                }

                return true;
            default:
                return false;
        }
    }

    /// <summary>A completion prompt: a string, or an array of strings taken together as one prompt.</summary>
    public static bool ReadStringOrStrings(ref Utf8JsonReader reader, ref TextStats text)
    {
        if (reader.TokenType == JsonTokenType.String)
        {
            text.Add(ref reader);
            return true;
        }

        if (reader.TokenType != JsonTokenType.StartArray)
        {
            return false;
        }

        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.String)
            {
                return false;
            }

            text.Add(ref reader);
        }

        return true;
    }

    public static List<EmbeddingInput>? ReadEmbeddingInputs(ref Utf8JsonReader reader)
    {
        if (reader.TokenType == JsonTokenType.String)
        {
            return [Input(ref reader)];
        }

        if (reader.TokenType != JsonTokenType.StartArray)
        {
            return null;
        }

        var inputs = new List<EmbeddingInput>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.String)
            {
                return null;
            }

            inputs.Add(Input(ref reader));
        }

        return inputs.Count == 0 ? null : inputs;

        static EmbeddingInput Input(ref Utf8JsonReader reader)
        {
            var text = new TextStats();
            text.Add(ref reader);
            return new EmbeddingInput(text.Hash, Math.Max(1, text.Words));
        }
    }
}
