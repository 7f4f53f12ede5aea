using System.Diagnostics;
using System.Net;
using LlmAspire.Gateway.Tests.Infrastructure;
using static LlmAspire.Gateway.Tests.Infrastructure.StorageServers;
using static LlmAspire.TestToolkit.OpenAiRequests;

namespace LlmAspire.Gateway.Tests;

/// <summary>
/// Fair share in a model's queue through a real gateway (API keys in PostgreSQL) in front of the simulator: a key that
/// arrives behind another key's burst is served in turns with it, not after it.
/// </summary>
public sealed class FairShareTests(StorageServers servers) : IAsyncLifetime
{
    private const int Burst = 200, Few = 5, MaxConcurrent = 2;
    private readonly string spool = Directory.CreateTempSubdirectory("llmaspire-spool-").FullName;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync()
    {
        Directory.Delete(spool, recursive: true);
        return ValueTask.CompletedTask;
    }

    [Fact]
    public async Task A_key_with_5_requests_behind_a_key_with_200_queued_finishes_long_before_them()
    {
        // About 50 ms per request: the burst alone keeps the model busy for a hundred rounds of two.
        await using var simulator = await SimulatorServer.StartAsync("m", "--ttft-ms", "20", "--output-tokens", "6", "--tokens-per-second", "200");
        await using var gateway = await GatewayServer.StartAsync(GatewayServer.ModelSettings("m", simulator.BaseAddress,
                ("MaxConcurrent", $"{MaxConcurrent}"), ("MaxQueue", "1000"), ("QueueTimeout", "00:10:00"))
            .Concat(GatewaySettings(await servers.Postgres.CreateDatabaseAsync(), null, spool)));
        var (_, bulk) = await CreateKeyAsync(gateway, "batch");
        var (_, interactive) = await CreateKeyAsync(gateway, "chat");
        var clock = Stopwatch.StartNew();
        var finished = 0;

        async Task<(int Position, TimeSpan At)> SendAsync(string key, int index)
        {
            using var response = await gateway.Client.SendAsync(WithKey(Chat("m", prompt: $"request {index}"), key), Token);
            var body = await response.Content.ReadAsStringAsync(Token);
            Assert.True(response.StatusCode == HttpStatusCode.OK, body);
            return (Interlocked.Increment(ref finished), clock.Elapsed);
        }

        var burst = Enumerable.Range(0, Burst).Select(i => SendAsync(bulk, i)).ToList();
        await Eventually.HoldsAsync(() => gateway.Queue("m").Queued >= Burst - MaxConcurrent - 10, "the burst waits in the model's queue");
        var finishedBeforeTheFew = Volatile.Read(ref finished);
        var arrivedAt = clock.Elapsed;
        var few = await Task.WhenAll(Enumerable.Range(0, Few).Select(i => SendAsync(interactive, i)));
        var bursts = await Task.WhenAll(burst);

        var output = TestContext.Current.TestOutputHelper!;
        output.WriteLine($"key with {Few}: arrived at {arrivedAt.TotalSeconds:F2} s, finished at {string.Join(", ", few.Select(r => $"#{r.Position} {r.At.TotalSeconds:F2} s"))}");
        output.WriteLine($"key with {Burst}: first finished at {bursts.Min(r => r.At).TotalSeconds:F2} s, last at {bursts.Max(r => r.At).TotalSeconds:F2} s "
            + $"(#{bursts.Max(r => r.Position)})");

        // Taking turns, each of the few waits for at most one of the burst per turn (plus the slots busy when it came);
        // first come, first served, all five would finish after the whole burst.
        var lastOfTheFew = few.Max(r => r.Position);
        Assert.InRange(lastOfTheFew - finishedBeforeTheFew, Few, (2 * Few) + (4 * MaxConcurrent));
        Assert.True(bursts.Count(r => r.Position > lastOfTheFew) >= Burst - 50,
            $"the {Few} requests finished at positions {string.Join(", ", few.Select(r => r.Position))}, ahead of most of the burst");
        Assert.Equal((0, 0), (gateway.Queue("m").InFlight, gateway.Queue("m").Queued));
    }
}
