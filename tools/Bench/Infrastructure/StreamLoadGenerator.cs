using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;

namespace LlmAspire.Bench.Infrastructure;

/// <summary>
/// A closed-loop generator of streamed completions that timestamps every event as it arrives: a fixed number of
/// workers, each sending its next request as soon as the previous stream has ended, for a fixed time. Bounded in
/// time, loopback only.
/// </summary>
public sealed class StreamLoadGenerator : IDisposable
{
    private readonly HttpMessageInvoker client;

    public StreamLoadGenerator(int maxConnections)
    {
        client = new HttpMessageInvoker(new SocketsHttpHandler
        {
            UseProxy = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            MaxConnectionsPerServer = maxConnections,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
        });
    }

    /// <summary>Time to the first event and the gaps between later events of streamed completions.</summary>
    public async Task<(Distribution TimeToFirstEvent, Distribution Gaps, int Errors)> RunAsync(Uri target, byte[] body, int workers, TimeSpan duration)
    {
        var firsts = new ConcurrentBag<double>();
        var gaps = new ConcurrentBag<double>();
        var errors = 0;
        var stopwatch = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, workers).Select(async _ =>
        {
            var buffer = new byte[16 * 1024];
            while (stopwatch.Elapsed < duration)
            {
                var started = Stopwatch.GetTimestamp();
                using var response = await client.SendAsync(Post(target, body), CancellationToken.None);
                if (!response.IsSuccessStatusCode)
                {
                    Interlocked.Increment(ref errors);
                    continue;
                }

                await using var content = await response.Content.ReadAsStreamAsync();
                long previous = 0;
                int read;
                var done = false;
                while ((read = await content.ReadAsync(buffer)) > 0)
                {
                    var now = Stopwatch.GetTimestamp();
                    var events = CountEvents(buffer.AsSpan(0, read));
                    done |= buffer.AsSpan(0, read).IndexOf("[DONE]"u8) >= 0;
                    for (var i = 0; i < events; i++)
                    {
                        if (previous == 0)
                        {
                            firsts.Add(Stopwatch.GetElapsedTime(started, now).TotalMicroseconds);
                        }
                        else
                        {
                            gaps.Add(Stopwatch.GetElapsedTime(previous, now).TotalMicroseconds);
                        }

                        previous = now;
                    }
                }

                if (!done)
                {
                    Interlocked.Increment(ref errors);
                }
            }
        }));
        return (new Distribution(firsts), new Distribution(gaps), errors);
    }

    public void Dispose() => client.Dispose();

    public static string ChatBody(string model, int maxTokens, bool stream) =>
        $$"""{"model":"{{model}}","messages":[{"role":"user","content":"Write a short note about connection pools."}],"max_tokens":{{maxTokens}},"stream":{{(stream ? "true" : "false")}}}""";

    private static HttpRequestMessage Post(Uri target, byte[] body)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        var request = new HttpRequestMessage(HttpMethod.Post, target) { Content = content, Version = HttpVersion.Version11 };
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        return request;
    }

    /// <summary>Counts server-sent events (one <c>data:</c> line each) in a chunk; the terminator is not a token.</summary>
    private static int CountEvents(ReadOnlySpan<byte> chunk)
    {
        var count = 0;
        int index;
        while ((index = chunk.IndexOf("data: "u8)) >= 0)
        {
            chunk = chunk[(index + 6)..];
            if (!chunk.StartsWith("[DONE]"u8))
            {
                count++;
            }
        }

        return count;
    }
}
