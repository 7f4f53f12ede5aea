using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Text;

namespace LlmAspire.Storage;

/// <summary>
/// Text as PostgreSQL can store it. A <c>text</c> value cannot hold the NUL character (<c>22021</c>), and a .NET
/// string with an unpaired surrogate has no UTF-8 form to send; both arrive from clients (a model name, a key filter)
/// and from model servers (their last output). Every value that did not come from the platform itself passes through
/// <see cref="Storable(string?, int)"/> before it is written or compared, so one such value cannot fail a statement,
/// and with it a batch of other rows.
/// </summary>
public static class PostgresText
{
    /// <summary>
    /// <paramref name="value"/> with NUL and unpaired surrogates replaced by U+FFFD and cut to
    /// <paramref name="maxLength"/> characters (never inside a surrogate pair); the same instance when it needs nothing.
    /// </summary>
    [return: NotNullIfNotNull(nameof(value))]
    public static string? Storable(string? value, int maxLength = int.MaxValue)
    {
        if (value is null || (IsStorable(value) && value.Length <= maxLength))
        {
            return value;
        }

        // UTF-8's replacement fallback turns every unpaired surrogate into U+FFFD; NUL is valid UTF-8 and is replaced after.
        var text = Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(value)).Replace('\0', '\uFFFD');
        if (text.Length <= maxLength)
        {
            return text;
        }

        var cut = char.IsHighSurrogate(text[maxLength - 1]) ? maxLength - 1 : maxLength;
        return text[..cut];
    }

    /// <summary>True when <paramref name="value"/> can be stored as it is.</summary>
    public static bool IsStorable(ReadOnlySpan<char> value)
    {
        if (value.Contains('\0'))
        {
            return false;
        }

        // Surrogates are rare in real text; only then is their pairing checked.
        var surrogate = value.IndexOfAnyInRange('\uD800', '\uDFFF');
        if (surrogate < 0)
        {
            return true;
        }

        for (var rest = value[surrogate..]; !rest.IsEmpty;)
        {
            if (Rune.DecodeFromUtf16(rest, out _, out var consumed) != OperationStatus.Done)
            {
                return false;
            }

            rest = rest[consumed..];
        }

        return true;
    }
}
