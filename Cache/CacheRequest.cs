using System.Buffers;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;

namespace LlmAspire.Cache;

/// <summary>
/// What the cache needs to know about one request body: its canonical key and whether its answer is deterministic.
/// </summary>
/// <remarks>
/// The key covers every top-level field except those that cannot change the answer (<see cref="IgnoredFields"/>):
/// listing what to ignore rather than what to include means a sampling parameter the gateway has never heard of still
/// separates two requests instead of making them collide. Object members are sorted and numbers normalised
/// (<c>0</c>, <c>0.0</c> and <c>0e0</c> are one temperature), so clients that serialise the same request differently
/// share an entry. Arrays keep their order: message order is meaning.
/// </remarks>
public readonly record struct CacheRequest(string Key, bool Deterministic)
{
    /// <summary>Fields that never decide the answer: who asked, how it is delivered, what is stored alongside it.</summary>
    public static readonly IReadOnlySet<string> IgnoredFields = new HashSet<string>(StringComparer.Ordinal)
    {
        "user", "stream", "stream_options", "store", "metadata",
    };

    private const string KeyPrefix = "llmaspire:cache:v1:";
    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 256 };

    /// <summary>
    /// Reads <paramref name="body"/> (already validated as one JSON object by the gateway) and computes its key within
    /// <paramref name="scope"/> (a tenant, or a shared scope for models configured as shared). False when the body has
    /// no canonical form — a string whose escapes do not decode to text, as an unpaired surrogate escape (JavaScript
    /// cutting an emoji in half) — so the request is not cached; the model server may still take it.
    /// </summary>
    public static bool TryCreate(ReadOnlySpan<byte> body, CompletionKind kind, string scope, out CacheRequest request)
    {
        request = default;
        var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = DocumentOptions.MaxDepth });
        using var document = JsonDocument.ParseValue(ref reader);
        var root = document.RootElement;

        var canonical = new ArrayBufferWriter<byte>(Math.Max(256, body.Length));
        try
        {
            using var writer = new Utf8JsonWriter(canonical);
            writer.WriteStartArray();
            writer.WriteStringValue(kind.ToString());
            writer.WriteStartObject();
            foreach (var property in root.EnumerateObject().Where(p => !IgnoredFields.Contains(p.Name)).OrderBy(p => p.Name, StringComparer.Ordinal))
            {
                writer.WritePropertyName(property.Name);
                WriteCanonical(writer, property.Value);
            }

            writer.WriteEndObject();
            writer.WriteEndArray();
        }
        catch (Exception exception) when (exception is InvalidOperationException or ArgumentException)
        {
            // Thrown while unescaping a string that has no UTF-16 form.
            return false;
        }

        var hash = Convert.ToHexStringLower(SHA256.HashData(canonical.WrittenSpan));
        request = new CacheRequest($"{KeyPrefix}{scope}:{hash}", IsDeterministic(root, kind));
        return true;
    }

    /// <summary>
    /// Embeddings have no sampling; a completion is reproducible when it samples greedily (<c>temperature</c> 0) or
    /// with a fixed <c>seed</c>. A missing temperature means the server's default, which is not 0.
    /// </summary>
    private static bool IsDeterministic(JsonElement root, CompletionKind kind)
    {
        if (kind == CompletionKind.Embeddings)
        {
            return true;
        }

        if (root.TryGetProperty("temperature", out var temperature) && temperature.ValueKind == JsonValueKind.Number
            && temperature.TryGetDouble(out var value) && value == 0)
        {
            return true;
        }

        return root.TryGetProperty("seed", out var seed) && seed.ValueKind == JsonValueKind.Number;
    }

    private static void WriteCanonical(Utf8JsonWriter writer, JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                writer.WriteStartObject();
                foreach (var property in element.EnumerateObject().OrderBy(p => p.Name, StringComparer.Ordinal))
                {
                    writer.WritePropertyName(property.Name);
                    WriteCanonical(writer, property.Value);
                }

                writer.WriteEndObject();
                break;
            case JsonValueKind.Array:
                writer.WriteStartArray();
                foreach (var item in element.EnumerateArray())
                {
                    WriteCanonical(writer, item);
                }

                writer.WriteEndArray();
                break;
            case JsonValueKind.Number:
                writer.WriteRawValue(CanonicalNumber(element.GetRawText()));
                break;
            default:
                // Strings are re-escaped by the writer, so "\u0041" and "A" become the same bytes.
                element.WriteTo(writer);
                break;
        }
    }

    private static string CanonicalNumber(string raw)
    {
        if (long.TryParse(raw, NumberStyles.Integer, CultureInfo.InvariantCulture, out var integer))
        {
            return integer.ToString(CultureInfo.InvariantCulture);
        }

        // G29 drops trailing zeros, so 0.50 and 0.5 and 5e-1 agree; decimal keeps large seeds exact.
        if (decimal.TryParse(raw, NumberStyles.Float, CultureInfo.InvariantCulture, out var number))
        {
            return number.ToString("G29", CultureInfo.InvariantCulture);
        }

        // Beyond double's range a number has no shorter spelling worth finding: it stands for itself.
        var value = double.Parse(raw, NumberStyles.Float, CultureInfo.InvariantCulture);
        return double.IsFinite(value) ? value.ToString("R", CultureInfo.InvariantCulture) : raw;
    }
}
