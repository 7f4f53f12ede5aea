using System.Net;
using LlmAspire.Gateway.Tests.Infrastructure;
using static LlmAspire.TestToolkit.OpenAiRequests;

namespace LlmAspire.Gateway.Tests;

public sealed class AdmissionTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Full_queue_is_429_with_retry_after_and_the_slot_frees_when_the_holder_leaves()
    {
        await using var simulator = await SimulatorServer.StartAsync("m");
        await using var gateway = await GatewayServer.StartAsync("m", simulator.BaseAddress, ("MaxConcurrent", "1"), ("MaxQueue", "1"));
        using var holderGone = CancellationTokenSource.CreateLinkedTokenSource(Token);

        var holder = gateway.Client.SendAsync(Chat("m", headers: ("x-sim-fault", "hang")), holderGone.Token);
        await WaitUntilAsync(() => gateway.Queue("m").InFlight == 1);
        var waiter = gateway.Client.SendAsync(Chat("m"), Token);
        await WaitUntilAsync(() => gateway.Queue("m").Queued == 1);

        using var rejected = await gateway.Client.SendAsync(Chat("m"), Token);

        Assert.Equal(HttpStatusCode.TooManyRequests, rejected.StatusCode);
        Assert.True(rejected.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1));
        var error = await ErrorAsync(rejected);
        Assert.Equal("model_queue_full", (string?)error["code"]);

        await holderGone.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => holder);
        using var served = await waiter;
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
        await WaitUntilAsync(() => gateway.Queue("m").InFlight == 0 && simulator.State.Running == 0);
    }

    [Fact]
    public async Task Waiting_longer_than_the_queue_timeout_is_503_with_retry_after()
    {
        await using var simulator = await SimulatorServer.StartAsync("m");
        await using var gateway = await GatewayServer.StartAsync("m", simulator.BaseAddress, ("MaxConcurrent", "1"), ("QueueTimeout", "00:00:00.300"));
        using var holderGone = CancellationTokenSource.CreateLinkedTokenSource(Token);
        var holder = gateway.Client.SendAsync(Chat("m", headers: ("x-sim-fault", "hang")), holderGone.Token);
        await WaitUntilAsync(() => gateway.Queue("m").InFlight == 1);

        using var timedOut = await gateway.Client.SendAsync(Chat("m"), Token);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, timedOut.StatusCode);
        Assert.NotNull(timedOut.Headers.RetryAfter?.Delta);
        Assert.Equal("model_queue_timeout", (string?)(await ErrorAsync(timedOut))["code"]);
        Assert.Equal(0, gateway.Queue("m").Queued);

        await holderGone.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => holder);
    }

    /// <summary>Polls a condition that becomes true asynchronously; fails (not hangs) when it never does.</summary>
    internal static async Task WaitUntilAsync(Func<bool> condition, int seconds = 30)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "The condition did not become true in time.");
            await Task.Delay(20, Token);
        }
    }
}
