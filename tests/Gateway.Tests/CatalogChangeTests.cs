using System.Net;
using LlmAspire.Gateway.Api.Admission;
using LlmAspire.Gateway.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using static LlmAspire.Gateway.Tests.ModelManagerRoutingTests;
using static LlmAspire.TestToolkit.OpenAiRequests;

namespace LlmAspire.Gateway.Tests;

/// <summary>
/// A running gateway follows ModelManager's catalog as it changes, against a ModelManager double whose catalog the
/// tests change: a managed model's admission queue takes a new <c>maxConcurrency</c> with the requests it holds.
/// </summary>
public sealed class CatalogChangeTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_changed_MaxConcurrency_resizes_the_models_queue_without_dropping_or_leaking_a_request()
    {
        await using var simulator = await SimulatorServer.StartAsync("m");
        await using var manager = await FakeModelManager.StartAsync();
        manager.Set("m", "ready", simulator.BaseAddress, maxConcurrency: 2);
        await using var gateway = await GatewayServer.StartAsync(ManagerSettings(manager.BaseAddress));
        await WaitForStateAsync(gateway, "m", "ready");
        var queues = gateway.Services.GetRequiredService<AdmissionQueues>();
        using var hangUp = CancellationTokenSource.CreateLinkedTokenSource(Token);

        // Six requests that hold their slot until the client goes: two run, four wait.
        var holders = Enumerable.Range(0, 6).Select(_ => gateway.Client.SendAsync(Chat("m", headers: ("x-sim-fault", "hang")), hangUp.Token)).ToList();
        await Eventually.HoldsAsync(() => queues.All.Any(queue => queue is { Model: "m", InFlight: 2, Queued: 4 }), "two run and four wait");

        manager.Set("m", "ready", simulator.BaseAddress, maxConcurrency: 4);
        await Eventually.HoldsAsync(() => gateway.Queue("m") is { MaxConcurrent: 4, InFlight: 4, Queued: 2 } && simulator.State.Running == 4,
            "two waiting requests are admitted by the larger limit, without a new request");

        manager.Set("m", "ready", simulator.BaseAddress, maxConcurrency: 1);
        await Eventually.HoldsAsync(() => gateway.Queue("m").MaxConcurrent == 1, "the queue takes the smaller limit");
        Assert.Equal((4, 2), (gateway.Queue("m").InFlight, gateway.Queue("m").Queued));
        Assert.Equal(4, simulator.State.Running);

        await hangUp.CancelAsync();
        foreach (var holder in holders)
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => holder);
        }

        await Eventually.HoldsAsync(() => gateway.Queue("m") is { InFlight: 0, Queued: 0 } && simulator.State.Running == 0, "every slot is free again");

        // From now on one at a time.
        var requests = Enumerable.Range(0, 3).Select(_ => gateway.Client.SendAsync(Chat("m", headers: ("x-sim-ttft-ms", "600")), Token)).ToList();
        await Eventually.HoldsAsync(() => gateway.Queue("m") is { InFlight: 1, Queued: 2 }, "one runs and two wait");
        foreach (var request in requests)
        {
            using var response = await request;
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        Assert.Equal((0, 0), (gateway.Queue("m").InFlight, gateway.Queue("m").Queued));
    }
}
