using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using LlmAspire.ModelManager.Tests.Infrastructure;
using LlmAspire.TestToolkit.Servers.Processes;

namespace LlmAspire.ModelManager.Tests;

/// <summary>
/// A load nobody waits for any more, over real HTTP: ModelManager runs the simulator as a process that takes seconds to
/// load (<c>--startup-delay-ms</c>), and the callers that asked for it go away, straight or through a gateway.
/// </summary>
public sealed class AbandonedLoadTests : ProcessModelManagerTests
{
    private ModelManagerHost host = null!;

    private async Task StartAsync(string policy) => host = await Managers.StartAsync(
        settings: [TestCatalog.SimulatorProcess("sim", simulatorArgs: ["--startup-delay-ms", "4000"]), [TestCatalog.Setting("Models:sim:OnAbandonedLoad", policy)]]);

    /// <summary>The pid of the server being loaded, once it is launched.</summary>
    private async Task<int> LoadingServerAsync()
    {
        string? instance = null;
        await Eventually.HoldsAsync(async () => (instance = (string?)(await host.GetAsync("sim"))["instance"]) is not null, "the server was launched");
        Assert.Equal("starting", await host.StateAsync("sim"));
        return int.Parse(instance!, CultureInfo.InvariantCulture);
    }

    /// <summary>An ensure whose caller hangs up while the model loads.</summary>
    private async Task<int> EnsureAndHangUpAsync()
    {
        using var caller = CancellationTokenSource.CreateLinkedTokenSource(Cancellation);
        var ensure = host.Client.PostAsync("/api/models/sim/ensure", null, caller.Token);
        var pid = await LoadingServerAsync();
        await caller.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => ensure);
        return pid;
    }

    [Fact]
    public async Task With_Cancel_a_load_whose_caller_hangs_up_is_stopped_leaving_no_process_and_the_next_ensure_starts_it_again()
    {
        await StartAsync("Cancel");

        var pid = await EnsureAndHangUpAsync();

        await host.WaitForStateAsync("sim", "stopped");
        await Eventually.HoldsAsync(() => !ProcessTree.IsRunning(pid), "the loading server is gone");
        Assert.Empty(Managers.StateDirectory.EnumerateFiles("*.json"));
        var model = await host.GetAsync("sim");
        Assert.Contains("nobody waits for it any more (OnAbandonedLoad = Cancel)", (string?)model["lastError"], StringComparison.Ordinal);
        Assert.Null(model["retryAt"]);
        var events = JsonNode.Parse(await host.Client.GetStringAsync("/api/events?model=sim", Cancellation))!["events"]!.AsArray();
        Assert.Equal(["starting", "abandoned"], events.Select(e => (string)e!["event"]!));
        Assert.True((double)events[1]!["durationMs"]! > 0);

        var again = await host.EnsureAsync("sim");
        Assert.Equal("ready", (string?)again["state"]);
        Assert.NotEqual(pid, int.Parse((string)again["instance"]!, CultureInfo.InvariantCulture));
        Assert.Null(again["lastError"]);
    }

    [Fact]
    public async Task With_Continue_the_load_goes_on_after_its_caller_hangs_up()
    {
        await StartAsync("Continue");

        var pid = await EnsureAndHangUpAsync();

        await host.WaitForStateAsync("sim", "ready");
        Assert.Equal(pid.ToString(CultureInfo.InvariantCulture), (string?)(await host.GetAsync("sim"))["instance"]);
        Assert.Equal(["starting", "ready"], await host.EventsAsync("sim"));
    }

    [Fact]
    public async Task With_Cancel_a_client_that_leaves_the_gateway_while_the_model_loads_cancels_the_load()
    {
        await StartAsync("Cancel");
        var gateway = await host.StartGatewayAsync("--Gateway:ModelManager:ActivityReportInterval", "00:00:00.200");
        try
        {
            using var client = new HttpClient { BaseAddress = new Uri(gateway.Urls.First()) };
            using var leaving = CancellationTokenSource.CreateLinkedTokenSource(Cancellation);
            var request = client.PostAsync(
                "/v1/chat/completions", new StringContent("""{"model":"sim","messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json"),
                leaving.Token);
            var pid = await LoadingServerAsync();

            await leaving.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => request);

            await host.WaitForStateAsync("sim", "stopped");
            await Eventually.HoldsAsync(() => !ProcessTree.IsRunning(pid), "the loading server is gone");
            Assert.Equal(["starting", "abandoned"], await host.EventsAsync("sim"));
        }
        finally
        {
            await gateway.StopAsync(CancellationToken.None);
            await gateway.DisposeAsync();
        }
    }
}
