using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;

namespace LlmAspire.Bench.Infrastructure;

/// <summary>Latencies and throughput of one closed-loop run of non-streaming requests.</summary>
internal sealed record RequestRun(Distribution Latency, double RequestsPerSecond, int Errors);

/// <summary>Time to first token and gaps between tokens of one closed-loop run of streamed requests.</summary>
internal sealed record StreamRun(Distribution TimeToFirstToken, Distribution TokenGaps, int Streams, int Errors);

/// <summary>
/// A closed-loop load generator: a fixed number of workers, each sending its next request as soon as it has read the
/// previous response completely, for a fixed time. Request bodies are prebuilt bytes; each worker reuses its read
/// buffer; one pooled HTTP/1.1 handler serves every target. Bounded: a run stops taking new requests at its duration
/// and abandons any request still running 30 s later (counted as an error).
/// </summary>
internal sealed class LoadGenerator(int maxConnectionsPerServer, CancellationToken stopping) : IDisposable
{
    private static readonly TimeSpan Grace = TimeSpan.FromSeconds(30);

    private readonly HttpMessageInvoker client = new(new SocketsHttpHandler
    {
        UseProxy = false,
        AllowAutoRedirect = false,
        AutomaticDecompression = DecompressionMethods.None,
        MaxConnectionsPerServer = maxConnectionsPerServer,
        PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
        PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
    });

    /// <summary>Whole-response latency (request start to last byte read) of non-streaming requests.</summary>
    public async Task<RequestRun> RunRequestsAsync(RequestTarget target, byte[] body, int workers, TimeSpan duration)
    {
        using var bound = Bound(duration);
        var samples = new List<double>[workers];
        var errors = 0;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, workers).Select(async worker =>
        {
            var latencies = samples[worker] = new List<double>(8192);
            var buffer = new byte[16 * 1024];
            while (clock.Elapsed < duration)
            {
                if (await TimeRequestAsync(target, body, buffer, bound.Token) is { } latency)
                {
                    latencies.Add(latency);
                }
                else
                {
                    Interlocked.Increment(ref errors);
                }
            }
        }));
        var elapsed = clock.Elapsed;
        var all = samples.SelectMany(list => list).ToList();
        return new RequestRun(new Distribution(all), all.Count / elapsed.TotalSeconds, errors);
    }

    /// <summary>
    /// Whole-response latency of <paramref name="count"/> non-streaming requests sent one at a time with
    /// <paramref name="pause"/> between the end of one and the start of the next, so that the target goes idle in
    /// between as it does under sparse traffic (a closed loop keeps its threads awake).
    /// </summary>
    public async Task<RequestRun> RunSparseRequestsAsync(RequestTarget target, byte[] body, int count, TimeSpan pause)
    {
        using var bound = Bound(pause * count);
        var latencies = new List<double>(count);
        var errors = 0;
        var buffer = new byte[16 * 1024];
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < count; i++)
        {
            await Task.Delay(pause, bound.Token);
            if (await TimeRequestAsync(target, body, buffer, bound.Token) is { } latency)
            {
                latencies.Add(latency);
            }
            else
            {
                errors++;
            }
        }

        return new RequestRun(new Distribution(latencies), latencies.Count / clock.Elapsed.TotalSeconds, errors);
    }

    /// <summary>
    /// Streamed requests read as they arrive, each token event timestamped when the read that completed it returns:
    /// time to first token from request start, then the gap to each next token. A stream that does not deliver
    /// <paramref name="expectedTokens"/> tokens and <c>[DONE]</c> counts as an error and adds no samples. Workers start
    /// spread evenly over <paramref name="spread"/> (about one stream's length) so that paced streams, all equally long,
    /// do not start in lockstep bursts.
    /// </summary>
    public async Task<StreamRun> RunStreamsAsync(RequestTarget target, byte[] body, int expectedTokens, int workers, TimeSpan duration, TimeSpan spread)
    {
        using var bound = Bound(duration);
        var firsts = new List<double>[workers];
        var gaps = new List<double>[workers];
        var streams = 0;
        var errors = 0;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, workers).Select(async worker =>
        {
            var first = firsts[worker] = new List<double>(256);
            var between = gaps[worker] = new List<double>(256 * expectedTokens);
            var times = new long[expectedTokens];
            var reader = new SseTokenReader();
            var buffer = new byte[16 * 1024];
            await Task.Delay(spread * worker / workers, bound.Token);
            while (clock.Elapsed < duration)
            {
                var started = Stopwatch.GetTimestamp();
                reader.Reset();
                try
                {
                    using var response = await client.SendAsync(Post(target, body, stream: true), bound.Token);
                    await using var content = await response.Content.ReadAsStreamAsync(bound.Token);
                    int read;
                    while ((read = await content.ReadAsync(buffer, bound.Token)) > 0)
                    {
                        var now = Stopwatch.GetTimestamp();
                        var seen = reader.Tokens;
                        var tokens = reader.Feed(buffer.AsSpan(0, read));
                        for (var i = seen; i < seen + tokens && i < times.Length; i++)
                        {
                            times[i] = now;
                        }
                    }

                    if (response.IsSuccessStatusCode && reader.Done && reader.Tokens == expectedTokens)
                    {
                        first.Add(Stopwatch.GetElapsedTime(started, times[0]).TotalMicroseconds);
                        for (var i = 1; i < times.Length; i++)
                        {
                            between.Add(Stopwatch.GetElapsedTime(times[i - 1], times[i]).TotalMicroseconds);
                        }

                        Interlocked.Increment(ref streams);
                        continue;
                    }
                }
                catch (Exception e) when (IsFailure(e))
                {
                }

                Interlocked.Increment(ref errors);
            }
        }));
        return new StreamRun(new Distribution(firsts.SelectMany(l => l)), new Distribution(gaps.SelectMany(l => l)), streams, errors);
    }

    public void Dispose() => client.Dispose();

    /// <summary>One non-streaming request read to its last byte: its latency in µs, or null when it failed.</summary>
    private async Task<double?> TimeRequestAsync(RequestTarget target, byte[] body, byte[] buffer, CancellationToken cancellation)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            using var response = await client.SendAsync(Post(target, body, stream: false), cancellation);
            await using var content = await response.Content.ReadAsStreamAsync(cancellation);
            while (await content.ReadAsync(buffer, cancellation) > 0)
            {
            }

            return response.IsSuccessStatusCode ? Stopwatch.GetElapsedTime(started).TotalMicroseconds : null;
        }
        catch (Exception e) when (IsFailure(e))
        {
            return null;
        }
    }

    private CancellationTokenSource Bound(TimeSpan duration)
    {
        var bound = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        bound.CancelAfter(duration + Grace);
        return bound;
    }

    /// <summary>A failed request, not the benchmark being stopped (that propagates and ends the run).</summary>
    private bool IsFailure(Exception e) =>
        e is HttpRequestException or IOException || (e is OperationCanceledException && !stopping.IsCancellationRequested);

    /// <summary>A POST of <paramref name="body"/> as JSON over HTTP/1.1 with the target's headers.</summary>
    public static HttpRequestMessage Post(RequestTarget target, byte[] body, bool stream)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        var request = new HttpRequestMessage(HttpMethod.Post, target.Url)
        {
            Content = content,
            Version = HttpVersion.Version11,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        if (stream)
        {
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        }

        foreach (var (name, value) in target.Headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        return request;
    }
}
