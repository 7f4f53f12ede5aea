using System.Net;
using LlmAspire.Gateway.Tests.Infrastructure;
using static LlmAspire.TestToolkit.OpenAiRequests;

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
        using var metrics = new MetricRecorder(gateway.Services, "llmaspire.gateway.requests.admitted");
        var random = new Random(2024);
        var cancelled = Enumerable.Range(0, Requests).OrderBy(_ => random.Next()).Take(Cancelled).ToHashSet();
        // Half of the hang-ups come after a random wait (most of those requests are still queued then),
        // half once the third event of the stream has arrived.
        var hangUpAfterMs = Enumerable.Range(0, Requests).Select(_ => random.Next(1, 1500)).ToArray();
        bool CancelsMidStream(int index) => cancelled.Contains(index) && index % 2 == 0;

        async Task<bool> RunAsync(int index)
        {
            using var hangUp = CancellationTokenSource.CreateLinkedTokenSource(Token);
            if (cancelled.Contains(index) && !CancelsMidStream(index))
            {
                hangUp.CancelAfter(hangUpAfterMs[index]);
            }

            try
            {
                using var response = await gateway.Client.SendAsync(Chat("m", stream: true), HttpCompletionOption.ResponseHeadersRead, hangUp.Token);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                var events = new List<string>();
                await foreach (var data in EventsAsync(response, hangUp.Token))
                {
                    events.Add(data);
                    if (CancelsMidStream(index) && events.Count == 3)
                    {
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

        var completed = await Task.WhenAll(Enumerable.Range(0, Requests).Select(RunAsync));

        // Every request nobody hung up on succeeded; every mid-stream hang-up really cut its stream.
        Assert.All(Enumerable.Range(0, Requests).Where(index => !cancelled.Contains(index)), index => Assert.True(completed[index]));
        Assert.All(Enumerable.Range(0, Requests).Where(CancelsMidStream), index => Assert.False(completed[index]));
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
