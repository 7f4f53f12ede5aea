using System.Diagnostics;
using System.Net;

namespace LlmAspire.VllmSimulator.Tests;

/// <summary>Running slots, the FIFO waiting queue, pacing and connection accounting.</summary>
public sealed class SchedulingTests
{
    private const string Completion = """{"prompt":"x"}""";

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task RequestsBeyondMaxConcurrencyWaitAndCountersNeverDrift()
    {
        await using var host = await SimulatorServer.StartWithArgumentsAsync("--max-concurrency", "2");
        using var hangs = CancellationTokenSource.CreateLinkedTokenSource(Cancel);
        var hung = Enumerable.Range(0, 2)
            .Select(_ => host.Client.SendAsync(OpenAiRequests.Post("/v1/completions", Completion, ("x-sim-fault", "hang")), hangs.Token))
            .ToList();
        await Eventually.HoldsAsync(() => host.State.Running == 2, "both slots are taken");

        var queued = host.Client.SendAsync(OpenAiRequests.Post("/v1/completions", Completion), Cancel);
        using var leaving = CancellationTokenSource.CreateLinkedTokenSource(Cancel);
        var abandoned = host.Client.SendAsync(OpenAiRequests.Post("/v1/completions", Completion), leaving.Token);
        await Eventually.HoldsAsync(() => host.State.Waiting == 2, "the extra requests wait");
        Assert.Contains("vllm:num_requests_waiting{model_name=\"sim-model\"} 2.0\n", await host.Client.GetStringAsync("/metrics", Cancel), StringComparison.Ordinal);
        Assert.False(queued.IsCompleted);

        await leaving.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => abandoned);
        await Eventually.HoldsAsync(() => host.State.Waiting == 1, "a waiting client that left leaves the queue");

        await hangs.CancelAsync();
        using (var response = await queued)
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        await Eventually.HoldsAsync(() => host.State is { Running: 0, Waiting: 0 }, "every slot is free again");
        Assert.Equal(1, host.State.RequestsCompleted);
        foreach (var request in hung)
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => request);
        }
    }

    [Fact]
    public async Task WaitingRequestsRunInArrivalOrder()
    {
        await using var host = await SimulatorServer.StartWithArgumentsAsync("--max-concurrency", "1");
        using var hang = CancellationTokenSource.CreateLinkedTokenSource(Cancel);
        var blocker = host.Client.SendAsync(OpenAiRequests.Post("/v1/completions", Completion, ("x-sim-fault", "hang")), hang.Token);
        await Eventually.HoldsAsync(() => host.State.Running == 1, "the only slot is taken");

        // Each holds the slot for 300 ms, so the second can only finish well after the first.
        var first = host.Client.SendAsync(OpenAiRequests.Post("/v1/completions", Completion, ("x-sim-ttft-ms", "300")), Cancel);
        await Eventually.HoldsAsync(() => host.State.Waiting == 1, "the first request waits");
        var second = host.Client.SendAsync(OpenAiRequests.Post("/v1/completions", Completion, ("x-sim-ttft-ms", "300")), Cancel);
        await Eventually.HoldsAsync(() => host.State.Waiting == 2, "the second request waits behind it");

        await hang.CancelAsync();
        Assert.Same(first, await Task.WhenAny(first, second));
        (await first).Dispose();
        (await second).Dispose();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => blocker);
    }

    [Fact]
    public async Task TokensArriveAsTheyAreGeneratedNotAtTheEnd()
    {
        await using var host = await SimulatorServer.StartWithArgumentsAsync("--ttft-ms", "200", "--tokens-per-second", "10", "--output-tokens", "5");
        var clock = Stopwatch.StartNew();
        using var response = await host.Client.SendAsync(
            OpenAiRequests.Post("/v1/chat/completions", """{"messages":[],"stream":true}"""), HttpCompletionOption.ResponseHeadersRead, Cancel);
        var arrivals = new List<TimeSpan>();
        await foreach (var data in Sse.ReadAsync(response, Cancel))
        {
            if (Sse.IsContentChunk(data))
            {
                arrivals.Add(clock.Elapsed);

                // The first token is on the wire while the rest (400 ms more) are still to come: nothing is buffered.
                Assert.True(arrivals.Count > 1 || host.State.Running == 1, "first token arrived only after generation ended");
            }
        }

        Assert.Equal(5, arrivals.Count);
        for (var i = 0; i < arrivals.Count; i++)
        {
            // Lower bounds only: token i is due 200 ms + i × 100 ms after the request started running.
            Assert.True(arrivals[i] >= TimeSpan.FromMilliseconds(190 + (i * 100)), $"token {i} came early, at {arrivals[i]}");
        }
    }

    [Fact]
    public async Task SequentialRequestsOnOneKeepAliveClientUseOneConnection()
    {
        await using var host = await SimulatorServer.StartWithArgumentsAsync();
        using (var client = host.CreateClient())
        {
            for (var i = 0; i < 10; i++)
            {
                using var response = await client.SendAsync(OpenAiRequests.Post("/v1/completions", Completion), Cancel);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                await response.Content.ReadAsStringAsync(Cancel);
            }

            Assert.Equal(1, host.State.ConnectionsOpened);
            Assert.Equal(1, host.State.ConnectionsActive);
        }

        await Eventually.HoldsAsync(() => host.State.ConnectionsActive == 0, "the closed connection is no longer active");
        var metrics = await host.CreateClient().GetStringAsync("/metrics", Cancel);
        Assert.Contains("simulator_connections_opened_total 2.0\n", metrics, StringComparison.Ordinal);
        Assert.Contains("simulator_connections_active 1.0\n", metrics, StringComparison.Ordinal);
        Assert.Contains("vllm:request_success_total{model_name=\"sim-model\"} 10.0\n", metrics, StringComparison.Ordinal);
        Assert.Contains("vllm:prompt_tokens_total{model_name=\"sim-model\"} 10.0\n", metrics, StringComparison.Ordinal);
        Assert.Contains("vllm:generation_tokens_total{model_name=\"sim-model\"} 160.0\n", metrics, StringComparison.Ordinal);
        Assert.Contains("vllm:num_requests_running{model_name=\"sim-model\"} 0.0\n", metrics, StringComparison.Ordinal);
    }
}
