using LlmAspire.ModelManager.Catalog;
using LlmAspire.ModelManager.Client;
using LlmAspire.ModelManager.Lifecycle;
using LlmAspire.ModelManager.Tests.Infrastructure;

namespace LlmAspire.ModelManager.Tests;

/// <summary>
/// <c>OnAbandonedLoad</c> in virtual time against a fake runtime whose server never becomes ready: who counts as waiting
/// for a load, and what happens to it once nobody does.
/// </summary>
public sealed class AbandonedLoadRuleTests : VirtualTimeTests
{
    public override async ValueTask InitializeAsync()
    {
        await base.InitializeAsync();
        // Nothing listens there: the load goes on until the test says otherwise.
        Runtime.Endpoint = new Uri($"http://127.0.0.1:{Runtimes.ServerArguments.FreeLoopbackPort()}/");
    }

    private FleetHarness Fleet(AbandonedLoadPolicy policy) => Fleet(new ModelManagerOptions
    {
        ApiToken = "t",
        Models = new() { ["m"] = new CatalogModelOptions { Command = "unused", OnAbandonedLoad = policy } },
    });

    /// <summary>Begins a load for a caller that leaves once the server is launched.</summary>
    private static async Task LeaveWhileLoadingAsync(FleetHarness fleet)
    {
        using var caller = new CancellationTokenSource();
        var ensure = fleet["m"].EnsureAsync(verify: false, Timeout.InfiniteTimeSpan, caller.Token);
        await Eventually.HoldsAsync(() => fleet["m"].Instance is not null, "the server was launched");
        await caller.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => ensure);
    }

    [Fact]
    public async Task With_Cancel_a_load_whose_callers_all_left_is_cancelled_its_server_stopped_and_the_next_ensure_starts_it_again()
    {
        var fleet = Fleet(AbandonedLoadPolicy.Cancel);

        await LeaveWhileLoadingAsync(fleet);

        await Eventually.HoldsAsync(() => fleet["m"].State == ModelState.Stopped, "the load was cancelled");
        Assert.Equal(["m"], Runtime.Stopped);
        Assert.Contains("nobody waits for it any more (OnAbandonedLoad = Cancel)", fleet["m"].LastError, StringComparison.Ordinal);
        Assert.Equal(["starting", "abandoned"], fleet.EventsOf("m"));
        Assert.Null(fleet["m"].RetryAt);

        Runtime.Endpoint = ReadyServer.Address;
        await fleet["m"].EnsureAsync(Token);
        Assert.Equal(ModelState.Ready, fleet["m"].State);
        Assert.Equal(2, Runtime.Starts);
        Assert.Null(fleet["m"].LastError);
    }

    [Fact]
    public async Task With_Continue_a_load_whose_callers_all_left_goes_on_for_the_next_one()
    {
        var fleet = Fleet(AbandonedLoadPolicy.Continue);

        await LeaveWhileLoadingAsync(fleet);
        await fleet.Reaper.ReapAsync();
        Assert.Equal(ModelState.Starting, fleet["m"].State);

        var next = fleet["m"].EnsureAsync(Token);
        Runtime.StopListening("m", ReadyServer.Address);
        Time.Advance(TimeSpan.FromSeconds(1));
        await next;
        Assert.Equal(1, Runtime.Starts);
        Assert.Empty(Runtime.Stopped);
    }

    [Fact]
    public async Task A_caller_that_ran_out_of_patience_keeps_the_load_wanted_it_is_to_ask_again()
    {
        var fleet = Fleet(AbandonedLoadPolicy.Cancel);

        var ensure = fleet["m"].EnsureAsync(verify: false, TimeSpan.FromSeconds(30), Token);
        await Eventually.HoldsAsync(() => fleet["m"].Instance is not null, "the server was launched");
        Time.Advance(TimeSpan.FromSeconds(30));
        await Assert.ThrowsAsync<TimeoutException>(() => ensure);
        await fleet.Reaper.ReapAsync();

        Assert.Equal(ModelState.Starting, fleet["m"].State);
        Assert.Empty(Runtime.Stopped);
    }

    [Fact]
    public async Task Requests_a_gateway_reports_queued_keep_a_load_whose_callers_left_until_they_go_too()
    {
        var fleet = Fleet(AbandonedLoadPolicy.Cancel);
        fleet.Activity.Report("gateway-1", new Dictionary<string, ModelActivity> { ["m"] = new(0, 0, Queued: 2) });

        await LeaveWhileLoadingAsync(fleet);
        await fleet.Reaper.ReapAsync();
        Assert.Equal(ModelState.Starting, fleet["m"].State);

        fleet.Activity.Report("gateway-1", new Dictionary<string, ModelActivity> { ["m"] = new(0, 0, Queued: 0) });
        await fleet.Reaper.ReapAsync();
        await Eventually.HoldsAsync(() => fleet["m"].State == ModelState.Stopped, "the load was cancelled");
        Assert.Equal(["starting", "abandoned"], fleet.EventsOf("m"));
    }

    [Fact]
    public async Task A_load_begun_by_adopting_a_server_at_start_up_is_never_abandoned()
    {
        var fleet = Fleet(AbandonedLoadPolicy.Cancel);
        Runtime.LeaveRunning("m");

        await fleet["m"].AdoptAsync(Token);
        await fleet.Reaper.ReapAsync();

        Assert.Equal(ModelState.Starting, fleet["m"].State);
        Assert.Empty(Runtime.Stopped);
    }
}
