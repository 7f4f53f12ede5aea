using System.Net;
using LlmAspire.Gateway.Tests.Infrastructure;
using static LlmAspire.Gateway.Tests.Infrastructure.OpenAiRequests;

namespace LlmAspire.Gateway.Tests;

/// <summary>Clients that hang up — while queued or mid-stream — leak no slot, no counter and no upstream request.</summary>
public sealed class CancellationTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Two_hundred_requests_with_fifty_cancelled_leave_every_count_at_zero()
    {
        const int Requests = 200, Cancelled = 50, Tokens = 20;
        await using var simulator = await SimulatorServer.StartAsync("m", "--output-tokens", $"{Tokens}", "--ttft-ms", "10", "--tokens-per-second", "400");
        await using var gateway = await GatewayServer.StartAsync("m", simulator.BaseAddress, ("MaxConcurrent", "4"), ("MaxQueue", "200"));
        var random = new Random(2024);
        var cancelled = Enumerable.Range(0, Requests).OrderBy(_ => random.Next()).Take(Cancelled).ToHashSet();
        var hangUpAfterMs = Enumerable.Range(0, Requests).Select(_ => random.Next(1, 2000)).ToArray();
        var streamingCancellations = 0;
        using var metrics = new MetricRecorder(gateway.Services, "llmaspire.gateway.requests.admitted");

        async Task<bool> RunAsync(int index)
        {
            using var hangUp = CancellationTokenSource.CreateLinkedTokenSource(Token);
            var cancelMidStream = false;
            if (cancelled.Contains(index))
            {
                // Half hang up after a random wait (most of them are still queued then), half once tokens flow.
                cancelMidStream = index % 2 == 0;
                if (!cancelMidStream)
                {
                    hangUp.CancelAfter(hangUpAfterMs[index]);
                }
            }

            try
            {
                using var response = await gateway.Client.SendAsync(Chat("m", stream: true), HttpCompletionOption.ResponseHeadersRead, hangUp.Token);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                var events = new List<string>();
                await foreach (var data in EventsAsync(response, hangUp.Token))
                {
                    events.Add(data);
                    if (cancelMidStream && events.Count == 3)
                    {
                        Interlocked.Increment(ref streamingCancellations);
                        await hangUp.CancelAsync();
                    }
                }

                Assert.Equal("[DONE]", events[^1]);
                Assert.Equal(Tokens, Content(events).Split(' ', StringSplitOptions.RemoveEmptyEntries).Length);
                return true;
            }
            catch (OperationCanceledException) when (hangUp.IsCancellationRequested && cancelled.Contains(index))
            {
                return false;
            }
        }

        var outcomes = await Task.WhenAll(Enumerable.Range(0, Requests).Select(RunAsync));

        Assert.Equal(Requests - Cancelled, outcomes.Count(completed => completed));
        Assert.Equal(Cancelled / 2, streamingCancellations);
        // Some hung up while still waiting for a slot: they were never admitted.
        Assert.InRange(metrics.Sum("llmaspire.gateway.requests.admitted"), Requests - Cancelled, Requests - 1);
        await AdmissionTests.WaitUntilAsync(() => gateway.Queue("m").InFlight == 0 && gateway.Queue("m").Queued == 0
            && simulator.State.Running == 0 && simulator.State.Waiting == 0);
        Assert.Equal(0, gateway.Queue("m").InFlight);
        Assert.Equal(0, gateway.Queue("m").Queued);
        Assert.Equal(0, simulator.State.Running);
        Assert.Equal(0, simulator.State.Waiting);
    }
}
