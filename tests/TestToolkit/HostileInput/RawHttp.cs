using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace LlmAspire.TestToolkit.HostileInput;

/// <summary>An HTTP/1.1 answer as it came over the wire.</summary>
public sealed record RawResponse(int Status, IReadOnlyDictionary<string, string> Headers, byte[] Body)
{
    public string Text => Encoding.UTF8.GetString(Body);
}

/// <summary>
/// Sends requests as raw bytes over TCP to a loopback server, for framing no HTTP client would produce (a malformed
/// request line, conflicting lengths, bad chunks, a body trickling in), and reads the answer whatever its framing.
/// </summary>
public static class RawHttp
{
    public static async Task<RawResponse> SendAsync(Uri server, byte[] request, CancellationToken cancellationToken)
    {
        using var client = await ConnectAsync(server, cancellationToken);
        var stream = client.GetStream();
        await stream.WriteAsync(request, cancellationToken);
        return await ReadResponseAsync(stream, cancellationToken);
    }

    /// <summary>A connection to <paramref name="server"/>'s host and port (loopback only).</summary>
    public static async Task<TcpClient> ConnectAsync(Uri server, CancellationToken cancellationToken)
    {
        var client = new TcpClient { NoDelay = true };
        await client.ConnectAsync(server.Host, server.Port, cancellationToken);
        return client;
    }

    /// <summary>Reads one answer: its head, then a body framed by Content-Length, by chunks, or by the connection's end.</summary>
    public static async Task<RawResponse> ReadResponseAsync(Stream stream, CancellationToken cancellationToken)
    {
        var reader = new BufferedReader(stream);
        var head = Encoding.ASCII.GetString(await reader.ReadUntilAsync("\r\n\r\n"u8.ToArray(), cancellationToken));
        var lines = head.Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        var status = int.Parse(lines[0].Split(' ')[1], CultureInfo.InvariantCulture);
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in lines.Skip(1))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            headers[line[..colon].Trim()] = line[(colon + 1)..].Trim();
        }

        byte[] body;
        if (headers.TryGetValue("Content-Length", out var length))
        {
            body = await reader.ReadExactlyAsync(int.Parse(length, CultureInfo.InvariantCulture), cancellationToken);
        }
        else if (headers.TryGetValue("Transfer-Encoding", out var encoding) && encoding.Contains("chunked", StringComparison.OrdinalIgnoreCase))
        {
            using var chunks = new MemoryStream();
            while (true)
            {
                var size = Encoding.ASCII.GetString(await reader.ReadUntilAsync("\r\n"u8.ToArray(), cancellationToken)).Split(';')[0];
                var count = int.Parse(size, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                if (count == 0)
                {
                    break;
                }

                chunks.Write(await reader.ReadExactlyAsync(count, cancellationToken));
                await reader.ReadExactlyAsync(2, cancellationToken);
            }

            body = chunks.ToArray();
        }
        else
        {
            body = await reader.ReadToEndAsync(cancellationToken);
        }

        return new RawResponse(status, headers, body);
    }

    private sealed class BufferedReader(Stream stream)
    {
        private readonly MemoryStream pending = new();

        public async Task<byte[]> ReadUntilAsync(byte[] delimiter, CancellationToken cancellationToken)
        {
            int end;
            while ((end = pending.GetBuffer().AsSpan(0, (int)pending.Length).IndexOf(delimiter)) < 0)
            {
                await FillAsync(cancellationToken, required: true);
            }

            return Take(end + delimiter.Length)[..end];
        }

        public async Task<byte[]> ReadExactlyAsync(int count, CancellationToken cancellationToken)
        {
            while (pending.Length < count)
            {
                await FillAsync(cancellationToken, required: true);
            }

            return Take(count);
        }

        public async Task<byte[]> ReadToEndAsync(CancellationToken cancellationToken)
        {
            while (await FillAsync(cancellationToken, required: false))
            {
            }

            return Take((int)pending.Length);
        }

        private async Task<bool> FillAsync(CancellationToken cancellationToken, bool required)
        {
            var buffer = new byte[16 * 1024];
            var read = await stream.ReadAsync(buffer, cancellationToken);
            if (read == 0 && required)
            {
                throw new EndOfStreamException("The server closed the connection in the middle of its answer.");
            }

            pending.Write(buffer, 0, read);
            return read > 0;
        }

        private byte[] Take(int count)
        {
            var all = pending.ToArray();
            pending.SetLength(0);
            pending.Write(all, count, all.Length - count);
            return all[..count];
        }
    }
}
