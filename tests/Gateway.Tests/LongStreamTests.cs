using System.Net;
using LlmAspire.Gateway.Tests.Infrastructure;
using static LlmAspire.TestToolkit.OpenAiRequests;

namespace LlmAspire.Gateway.Tests;

public sealed class LongStreamTests
{
    [Fact]
    public async Task A_stream_longer_than_100_seconds_succeeds_with_default_settings()
    {
        var token = TestContext.Current.CancellationToken;
        // 2 tokens per second for 210 tokens: 105 s, past HttpClient's and YARP's 100-second defaults.
        const int Tokens = 210;
        await using var simulator = await SimulatorServer.StartAsync("slow", "--output-tokens", $"{Tokens}", "--tokens-per-second", "2");
        await using var gateway = await GatewayServer.StartAsync("slow", simulator.BaseAddress);
        var started = System.Diagnostics.Stopwatch.StartNew();

        using var response = await gateway.Client.SendAsync(Chat("slow", stream: true), HttpCompletionOption.ResponseHeadersRead, token);
        var events = await ReadEventsAsync(response, token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("[DONE]", events[^1]);
        Assert.Equal(Tokens, Content(events).Split(' ', StringSplitOptions.RemoveEmptyEntries).Length);
        // Not a timing assertion: it proves the stream really outlived the 100-second defaults.
        Assert.True(started.Elapsed > TimeSpan.FromSeconds(100), $"the stream lasted only {started.Elapsed}");
    }
}
