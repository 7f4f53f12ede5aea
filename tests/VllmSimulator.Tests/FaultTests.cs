using System.Net;

namespace LlmAspire.VllmSimulator.Tests;

/// <summary>Faults that end a request badly: crashes, hangs, and clients that give up.</summary>
public sealed class FaultTests
{
    private const string StreamedChat = """{"messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true}}""";

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task CrashAfterCutsTheStreamWithoutTerminator()
    {
        await using var host = await SimulatorServer.StartWithArgumentsAsync();
        using var response = await host.Client.SendAsync(
            OpenAiRequests.Post("/v1/chat/completions", StreamedChat, ("x-sim-fault", "crash-after=2")), HttpCompletionOption.ResponseHeadersRead, Cancel);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        var received = new List<string>();
        var error = await Assert.ThrowsAnyAsync<IOException>(async () =>
        {
            await foreach (var data in Sse.ReadAsync(response, Cancel))
            {
                received.Add(data);
            }
        });

        Assert.Equal(2, received.Count(Sse.IsContentChunk));
        Assert.DoesNotContain("[DONE]", received);
        Assert.DoesNotContain(received, e => e.Contains("usage", StringComparison.Ordinal));
        Assert.NotNull(error);
        await Eventually.HoldsAsync(() => host.State.Running == 0, "the crashed request released its slot");
        Assert.Equal(0, host.State.RequestsCompleted);
    }

    [Fact]
    public async Task CrashAfterFailsAWholeRequest()
    {
        await using var host = await SimulatorServer.StartWithArgumentsAsync("--fault", "crash-after=1");
        await Assert.ThrowsAsync<HttpRequestException>(() =>
            host.Client.PostAsync("/v1/completions", new StringContent("""{"prompt":"x"}"""), Cancel));
    }

    [Fact]
    public async Task ConfiguredFaultAppliesUnlessTheRequestNamesItsOwn()
    {
        await using var host = await SimulatorServer.StartWithArgumentsAsync("--fault", "error=503");
        using var faulted = await host.Client.SendAsync(OpenAiRequests.Post("/v1/completions", """{"prompt":"x"}"""), Cancel);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, faulted.StatusCode);
        using var healthy = await host.Client.SendAsync(OpenAiRequests.Post("/v1/completions", """{"prompt":"x"}""", ("x-sim-fault", "none")), Cancel);
        Assert.Equal(HttpStatusCode.OK, healthy.StatusCode);
    }

    [Fact]
    public async Task HangAfterHoldsTheSlotUntilTheClientLeaves()
    {
        await using var host = await SimulatorServer.StartWithArgumentsAsync();
        using var client = CancellationTokenSource.CreateLinkedTokenSource(Cancel);
        using var response = await host.Client.SendAsync(
            OpenAiRequests.Post("/v1/chat/completions", StreamedChat, ("x-sim-fault", "hang-after=2")), HttpCompletionOption.ResponseHeadersRead, client.Token);

        var content = 0;
        await foreach (var data in Sse.ReadAsync(response, client.Token))
        {
            if (Sse.IsContentChunk(data) && ++content == 2)
            {
                break;
            }
        }

        Assert.Equal(1, host.State.Running);
        await client.CancelAsync();
        response.Dispose();
        await Eventually.HoldsAsync(() => host.State.Running == 0, "the abandoned request released its slot");
        Assert.Equal(0, host.State.RequestsCompleted);
        Assert.Equal(2, host.State.Models[0].GenerationTokensTotal);
    }

    [Fact]
    public async Task HangSendsNothingNotEvenHeaders()
    {
        await using var host = await SimulatorServer.StartWithArgumentsAsync();
        using var client = CancellationTokenSource.CreateLinkedTokenSource(Cancel);
        var request = host.Client.SendAsync(
            OpenAiRequests.Post("/v1/chat/completions", StreamedChat, ("x-sim-fault", "hang")), HttpCompletionOption.ResponseHeadersRead, client.Token);

        await Eventually.HoldsAsync(() => host.State.Running == 1, "the hanging request holds a slot");
        await Task.Delay(100, Cancel);
        Assert.False(request.IsCompleted);
        await client.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => request);
        await Eventually.HoldsAsync(() => host.State.Running == 0, "the abandoned request released its slot");
    }

    [Fact]
    public async Task ClientLeavingMidStreamStopsGenerationAndReleasesTheSlot()
    {
        await using var host = await SimulatorServer.StartWithArgumentsAsync("--tokens-per-second", "20", "--output-tokens", "1000");
        using var response = await host.Client.SendAsync(
            OpenAiRequests.Post("/v1/chat/completions", StreamedChat), HttpCompletionOption.ResponseHeadersRead, Cancel);
        await foreach (var data in Sse.ReadAsync(response, Cancel))
        {
            if (Sse.IsContentChunk(data))
            {
                break;
            }
        }

        response.Dispose();
        await Eventually.HoldsAsync(() => host.State.Running == 0, "the server noticed the client left");
        Assert.InRange(host.State.Models[0].GenerationTokensTotal, 1, 999);
    }

    [Fact]
    public async Task StoppingTheServerEndsHangingRequestsPromptly()
    {
        var host = await SimulatorServer.StartWithArgumentsAsync("--fault", "hang");
        var request = host.Client.SendAsync(OpenAiRequests.Post("/v1/completions", """{"prompt":"x"}"""), Cancel);
        await Eventually.HoldsAsync(() => host.State.Running == 1, "the hanging request holds a slot");

        // Without the shutdown token the host would wait out its whole shutdown timeout for the hung request.
        var stop = host.DisposeAsync().AsTask();
        Assert.Same(stop, await Task.WhenAny(stop, Task.Delay(TimeSpan.FromSeconds(20), Cancel)));
        await Assert.ThrowsAnyAsync<Exception>(() => request);
    }
}
