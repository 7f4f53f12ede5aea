using System.Globalization;
using System.Net;
using System.Text;
using LlmAspire.Bench.Infrastructure;
using static LlmAspire.Bench.Infrastructure.MarkdownTable;

namespace LlmAspire.Bench.Scenarios;

/// <summary>
/// Memory held by open, idle streams: thousands of streamed completions opened through the gateway and through nginx to
/// a simulator that sends each stream's first token at once and the next a hundred seconds later, so every connection
/// stays open with nothing flowing. Resident memory of each proxy before, while all streams are open, and after the
/// clients have gone.
/// </summary>
internal sealed class IdleStreams : IScenario
{
    private const string Model = "idle";
    private const int OpeningAtOnce = 200;
    private const double LimitMiB = 500;
    private const int GoalStreams = 10_000;
    private static readonly byte[] Body = Encoding.UTF8.GetBytes(
        $$"""{"model":"{{Model}}","messages":[{"role":"user","content":"Wait."}],"max_tokens":2,"stream":true}""");

    public string Title => "Idle streams: memory of open streams held through the gateway and nginx";

    public async Task<ScenarioResult> RunAsync(BenchContext context)
    {
        var (servers, settings, stopping) = context;
        // Each stream holds two sockets in the proxy (client side and upstream side) besides the client's and the
        // simulator's, and no process may open more files than the limit: where it is under 21,000 (and cannot be raised
        // without CAP_SYS_RESOURCE), the most streams it allows are measured and the memory for the goal's count extrapolated.
        var limit = ProcessMemory.OpenFileLimit();
        var streams = (int)Math.Min(settings.Name == "quick" ? 1_000 : GoalStreams, (limit - 1_000) / 2);
        if (streams < OpeningAtOnce * 5)
        {
            throw new InvalidOperationException($"The open-file limit ({limit}) leaves room for only {streams} streams; raise it (ulimit -n).");
        }

        await using var simulator = await servers.StartSimulatorAsync("simulator-idle", Model,
            "--output-tokens", "2", "--tokens-per-second", "0.01", "--max-concurrency", $"{streams * 2}");
        var models = new Dictionary<string, Uri> { [Model] = simulator.BaseAddress };
        await using var gateway = await servers.StartGatewayAsync(models, new Dictionary<string, string>
        {
            [$"Gateway__Models__{Model}__MaxConcurrent"] = $"{streams}",
            [$"Gateway__Models__{Model}__MaxQueue"] = $"{streams}",
        }, name: "gateway-idle");
        var (nginx, viaNginx) = await servers.StartNginxAsync(models);
        await using var nginxProcess = nginx;

        var results = new List<Holding>();
        foreach (var (name, process, url) in new[]
        {
            ("gateway", gateway, new Uri(gateway.BaseAddress, "/v1/chat/completions")),
            ("nginx", nginx, new Uri(viaNginx[Model], "/v1/chat/completions")),
        })
        {
            // One small round first, so that the proxy's streaming path has run before it is measured idle.
            await HoldAsync(url, OpeningAtOnce, process.ProcessId, stopping);
            await Task.Delay(TimeSpan.FromSeconds(2), stopping);
            var idle = ProcessMemory.ResidentBytes(process.ProcessId);
            var holding = await HoldAsync(url, streams, process.ProcessId, stopping);
            await Task.Delay(TimeSpan.FromSeconds(3), stopping);
            var after = ProcessMemory.ResidentBytes(process.ProcessId);
            results.Add(holding with { Name = name, Idle = idle, After = after });
            Console.WriteLine($"{name}: {holding.Opened} of {streams} streams open in {holding.OpenSeconds:F1} s | RSS idle {MiB(idle)} MiB, " +
                $"open {MiB(holding.Open)} MiB, after {MiB(after)} MiB | failed {holding.Failed}");
        }

        return Report(streams, results);
    }

    /// <summary>Opens <paramref name="count"/> streams, waits for each one's first token, samples the proxy's memory, closes them.</summary>
    private static async Task<Holding> HoldAsync(Uri url, int count, int proxyPid, CancellationToken stopping)
    {
        using var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            MaxConnectionsPerServer = int.MaxValue,
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = TimeSpan.FromSeconds(30),
        };
        using var client = new HttpMessageInvoker(handler);
        using var closing = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        using var gate = new SemaphoreSlim(OpeningAtOnce);
        var firstTokens = 0;
        var failed = 0;
        var started = System.Diagnostics.Stopwatch.StartNew();
        var opened = new TaskCompletionSource();
        var holders = Enumerable.Range(0, count).Select(async _ =>
        {
            await gate.WaitAsync(closing.Token);
            var released = false;
            try
            {
                using var response = await client.SendAsync(LoadGenerator.Post(url, Body, stream: true), closing.Token);
                await using var content = await response.Content.ReadAsStreamAsync(closing.Token);
                var reader = new SseTokenReader();
                var buffer = new byte[1024];
                while (reader.Tokens == 0)
                {
                    var read = await content.ReadAsync(buffer, closing.Token);
                    if (read == 0)
                    {
                        throw new IOException("The stream ended before its first token.");
                    }

                    reader.Feed(buffer.AsSpan(0, read));
                }

                gate.Release();
                released = true;
                if (Interlocked.Increment(ref firstTokens) + Volatile.Read(ref failed) == count)
                {
                    opened.TrySetResult();
                }

                // Idle until the run closes every stream at once (the second token is 100 s away).
                while (await content.ReadAsync(buffer, closing.Token) > 0)
                {
                }
            }
            catch (Exception e) when (e is HttpRequestException or IOException && !closing.IsCancellationRequested)
            {
                if (!released)
                {
                    gate.Release();
                }

                if (Volatile.Read(ref firstTokens) + Interlocked.Increment(ref failed) == count)
                {
                    opened.TrySetResult();
                }
            }
            catch (OperationCanceledException) when (closing.IsCancellationRequested && !stopping.IsCancellationRequested)
            {
            }
        }).ToList();

        // Bounded: opening stops counting after two minutes whatever has happened.
        await opened.Task.WaitAsync(TimeSpan.FromMinutes(2), stopping).ContinueWith(_ => { }, TaskScheduler.Default);
        var openSeconds = started.Elapsed.TotalSeconds;
        await Task.Delay(TimeSpan.FromSeconds(2), stopping);
        var open = ProcessMemory.ResidentBytes(proxyPid);
        var result = new Holding("", Volatile.Read(ref firstTokens), Volatile.Read(ref failed), openSeconds, double.NaN, open, double.NaN);
        await closing.CancelAsync();
        await Task.WhenAll(holders);
        return result;
    }

    private static ScenarioResult Report(int streams, List<Holding> results)
    {
        var text = new StringBuilder();
        text.AppendLine($"{streams} streamed completions opened {OpeningAtOnce} at a time through each proxy (HTTP/1.1, one connection each), to a");
        text.AppendLine("simulator that sends the first token at once and the second 100 s later; measured once every stream has its first token");
        text.AppendLine("and 2 s have passed. Resident memory (VmRSS, nginx's master and workers summed) before a stream is open (after one round");
        text.AppendLine($"of {OpeningAtOnce}), while all are open, and 3 s after the clients have closed them. The gateway with `MaxConcurrent` {streams}.");
        text.AppendLine();
        var table = new MarkdownTable("proxy", "streams open", "failed", "opening s", "RSS idle MiB", "RSS open MiB", "KiB per stream", "RSS after MiB");
        foreach (var r in results)
        {
            table.Add(r.Name, $"{r.Opened}", $"{r.Failed}", r.OpenSeconds.ToString("F1", CultureInfo.InvariantCulture),
                MiB(r.Idle), MiB(r.Open), r.KiBPerStream.ToString("F1", CultureInfo.InvariantCulture), MiB(r.After));
        }

        text.Append(table);
        text.AppendLine();
        var gateway = results.Single(r => r.Name == "gateway");
        var nginx = results.Single(r => r.Name == "nginx");
        text.Append(new MarkdownTable("ratio", "value")
            .Add("gateway KiB per stream / nginx KiB per stream", Ratio(gateway.KiBPerStream / nginx.KiBPerStream))
            .Add("gateway RSS open / nginx RSS open", Ratio(gateway.Open / nginx.Open)));
        text.AppendLine();
        var atGoal = gateway.Idle + (gateway.KiBPerStream * 1024 * GoalStreams);
        var measuredAtGoal = streams == GoalStreams;
        if (!measuredAtGoal)
        {
            text.AppendLine($"The open-file limit allowed {streams} streams; at {GoalStreams} the gateway would hold about {MiB(atGoal)} MiB " +
                "(its idle memory plus the measured memory per stream).");
        }

        Bar[] bars =
        [
            new($"{GoalStreams} idle streams through the gateway under {LimitMiB:0} MB resident",
                measuredAtGoal
                    ? $"{MiB(gateway.Open)} MiB with {gateway.Opened} open ({gateway.KiBPerStream:F1} KiB per stream)"
                    : $"about {MiB(atGoal)} MiB ({MiB(gateway.Open)} MiB measured with {gateway.Opened} open, {gateway.KiBPerStream:F1} KiB per stream)",
                gateway.Opened == streams && (measuredAtGoal ? gateway.Open : atGoal) < LimitMiB * 1_000_000),
        ];
        return new ScenarioResult(text.ToString(), bars, results.Sum(r => r.Failed + (streams - r.Opened - r.Failed)));
    }

    private static string MiB(double bytes) => double.IsFinite(bytes) ? (bytes / 1024 / 1024).ToString("F0", CultureInfo.InvariantCulture) : "—";

    private sealed record Holding(string Name, int Opened, int Failed, double OpenSeconds, double Idle, double Open, double After)
    {
        public double KiBPerStream => Opened > 0 ? (Open - Idle) / 1024 / Opened : double.NaN;
    }
}
