using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Text;

namespace LlmAspire.Gateway.Api.Authentication;

/// <summary>
/// API keys look like <c>llma_&lt;id&gt;_&lt;secret&gt;</c>: a fixed prefix (so secret scanners and people recognise
/// them), a public id of 12 lowercase letters and digits (the primary key, safe to log and show), and a secret of 40
/// letters and digits (about 238 random bits). Only SHA-256 of the secret is stored: with that much entropy a slow
/// password hash adds nothing but latency to every cache miss.
/// </summary>
internal static class ApiKeyFormat
{
    public const string Prefix = "llma_";
    public const int IdLength = 12;
    public const int SecretLength = 40;

    private const string IdAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
    private const string SecretAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

    /// <summary>A new key: its id, the whole key to hand out once, and the hash to store.</summary>
    public static (string Id, string Key, byte[] SecretHash) Create()
    {
        var id = RandomNumberGenerator.GetString(IdAlphabet, IdLength);
        var secret = RandomNumberGenerator.GetString(SecretAlphabet, SecretLength);
        return (id, $"{Prefix}{id}_{secret}", Hash(secret));
    }

    /// <summary>Splits a presented key; false for anything not shaped like one (no database lookup is spent on it).</summary>
    public static bool TryParse(ReadOnlySpan<char> key, [NotNullWhen(true)] out string? id, out ReadOnlySpan<char> secret)
    {
        id = null;
        secret = default;
        if (key.Length != Prefix.Length + IdLength + 1 + SecretLength || !key.StartsWith(Prefix, StringComparison.Ordinal)
            || key[Prefix.Length + IdLength] != '_')
        {
            return false;
        }

        var idPart = key.Slice(Prefix.Length, IdLength);
        var secretPart = key[(Prefix.Length + IdLength + 1)..];
        if (!IsId(idPart) || secretPart.ContainsAnyExcept(SecretAlphabet))
        {
            return false;
        }

        id = idPart.ToString();
        secret = secretPart;
        return true;
    }

    /// <summary>Whether <paramref name="id"/> has the shape of a key id (anything else names no key).</summary>
    public static bool IsId(ReadOnlySpan<char> id) => id.Length == IdLength && !id.ContainsAnyExcept(IdAlphabet);

    public static byte[] Hash(ReadOnlySpan<char> secret)
    {
        Span<byte> utf8 = stackalloc byte[Encoding.UTF8.GetMaxByteCount(secret.Length)];
        var length = Encoding.UTF8.GetBytes(secret, utf8);
        return SHA256.HashData(utf8[..length]);
    }

    /// <summary>Compares a presented secret with a stored hash in time independent of where they differ.</summary>
    public static bool Matches(ReadOnlySpan<char> secret, ReadOnlySpan<byte> storedHash) =>
        CryptographicOperations.FixedTimeEquals(Hash(secret), storedHash);
}
