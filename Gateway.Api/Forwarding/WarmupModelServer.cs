using System.Net;
using System.Net.Sockets;
using System.Text;

namespace LlmAspire.Gateway.Api.Forwarding;

/// <summary>
/// A stand-in model server for <see cref="ForwardingWarmup"/>: HTTP/1.1 with keep-alive on a free 127.0.0.1 port,
/// answering every request at once with a fixed chat completion, as vLLM shapes it: a JSON body with its usage, or, for
/// a request with <c>"stream":true</c>, an event stream ending with the usage chunk and <c>[DONE]</c>.
/// </summary>
internal sealed class WarmupModelServer : IAsyncDisposable
{
    private const int MaxRequestBytes = 16 * 1024;

    private static readonly byte[] JsonResponse = Response("application/json",
        """{"id":"chatcmpl-warm-up","object":"chat.completion","created":0,"model":"warm-up","choices":[{"index":0,"message":{"role":"assistant","content":"Hello"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}""");

    private static readonly byte[] EventStreamResponse = Response("text/event-stream",
        """
        data: {"id":"chatcmpl-warm-up","object":"chat.completion.chunk","created":0,"model":"warm-up","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}

        data: {"id":"chatcmpl-warm-up","object":"chat.completion.chunk","created":0,"model":"warm-up","choices":[{"index":0,"delta":{"content":"Hello"},"finish_reason":"stop"}]}

        data: {"id":"chatcmpl-warm-up","object":"chat.completion.chunk","created":0,"model":"warm-up","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}

        data: [DONE]


        """.ReplaceLineEndings("\n"));

    private readonly TcpListener listener;
    private readonly CancellationTokenSource stopping = new();
    private readonly Task accepting;

    private WarmupModelServer()
    {
        listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        Endpoint = new Uri($"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}");
        accepting = AcceptAsync();
    }

    public Uri Endpoint { get; }

    public static WarmupModelServer Start() => new();

    public async ValueTask DisposeAsync()
    {
        await stopping.CancelAsync();
        listener.Stop();
        await accepting;
        stopping.Dispose();
    }

    private async Task AcceptAsync()
    {
        var connections = new List<Task>();
        try
        {
            while (true)
            {
                connections.Add(ServeAsync(await listener.AcceptSocketAsync(stopping.Token)));
            }
        }
        catch (Exception exception) when (exception is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // Stopped.
        }

        await Task.WhenAll(connections);
    }

    /// <summary>Answers the requests of one kept-alive connection until the client or the server closes it.</summary>
    private async Task ServeAsync(Socket socket)
    {
        using var connection = socket;
        var buffer = new byte[MaxRequestBytes];
        var filled = 0;
        try
        {
            while (true)
            {
                int headEnd;
                while ((headEnd = buffer.AsSpan(0, filled).IndexOf("\r\n\r\n"u8)) < 0)
                {
                    if (filled == buffer.Length || await ReceiveAsync() == 0)
                    {
                        return;
                    }
                }

                var requestEnd = headEnd + 4 + ContentLength(buffer.AsSpan(0, headEnd));
                if (requestEnd > buffer.Length)
                {
                    return;
                }

                while (filled < requestEnd)
                {
                    if (await ReceiveAsync() == 0)
                    {
                        return;
                    }
                }

                var streamed = buffer.AsSpan(headEnd, requestEnd - headEnd).IndexOf("\"stream\":true"u8) >= 0;
                await connection.SendAsync(streamed ? EventStreamResponse : JsonResponse, stopping.Token);
                buffer.AsSpan(requestEnd, filled - requestEnd).CopyTo(buffer);
                filled -= requestEnd;
            }
        }
        catch (Exception exception) when (exception is OperationCanceledException or SocketException)
        {
            // The client closed the connection, or the server stopped.
        }

        async Task<int> ReceiveAsync()
        {
            var read = await connection.ReceiveAsync(buffer.AsMemory(filled), stopping.Token);
            filled += read;
            return read;
        }
    }

    private static int ContentLength(ReadOnlySpan<byte> head)
    {
        foreach (var line in Encoding.ASCII.GetString(head).Split("\r\n"))
        {
            if (line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase) && int.TryParse(line.AsSpan(15).Trim(), out var length) && length >= 0)
            {
                return length;
            }
        }

        return 0;
    }

    private static byte[] Response(string contentType, string body) => Encoding.UTF8.GetBytes(
        $"HTTP/1.1 200 OK\r\nContent-Type: {contentType}\r\nContent-Length: {Encoding.UTF8.GetByteCount(body)}\r\n\r\n{body}");
}
