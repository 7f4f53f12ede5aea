using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace LlmAspire.ModelManager.Runtimes;

/// <summary>What every runtime shares: placeholder substitution and free loopback ports.</summary>
internal static class ServerArguments
{
    /// <summary>Replaces <c>{port}</c> and <c>{model}</c> in one argument.</summary>
    public static string Expand(string argument, int port, string modelId) => argument
        .Replace("{port}", port.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
        .Replace("{model}", modelId, StringComparison.Ordinal);

    public static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public static Uri LoopbackEndpoint(int port) => new($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}/");

    /// <summary>A model id as part of a file or container name: only [A-Za-z0-9_.-], plus a short hash when anything was replaced.</summary>
    public static string SafeName(string modelId)
    {
        var safe = new string(modelId.Select(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '-' ? c : '_').ToArray());
        if (safe == modelId && safe.Length <= 64)
        {
            return safe;
        }

        var hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(modelId)))[..8];
        return $"{safe[..Math.Min(safe.Length, 55)]}-{hash}";
    }
}
