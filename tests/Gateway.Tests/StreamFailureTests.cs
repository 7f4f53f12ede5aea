using System.Net;
using System.Text.Json.Nodes;
using LlmAspire.Gateway.Tests.Infrastructure;
using static LlmAspire.TestToolkit.OpenAiRequests;

namespace LlmAspire.Gateway.Tests;

/// <summary>A model server that fails or stalls mid-stream gives the client an error event and a cleanly ended stream.</summary>
public sealed class StreamFailureTests()
    : SimulatedModelTests("m", ["--output-tokens", "10"], ("StreamIdleTimeout", "00:00:00.500"), ("FirstByteTimeout", "00:00:01"))
{
    [Fact]
    public async Task Server_crash_mid_stream_ends_with_an_error_event_and_done()
    {
        var events = await StreamAsync(("x-sim-fault", "crash-after=3"));

        Assert.Equal(3, Content(events[..^2]).Split(' ', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Equal("upstream_stream_broken", ErrorCode(events[^2]));
        Assert.Equal("[DONE]", events[^1]);
    }

    [Fact]
    public async Task Server_silent_past_the_idle_timeout_ends_with_an_error_event_and_done()
    {
        var events = await StreamAsync(("x-sim-fault", "hang-after=2"));

        Assert.Equal("upstream_timeout", ErrorCode(events[^2]));
        Assert.Equal("[DONE]", events[^1]);
        await AdmissionTests.WaitUntilAsync(() => Simulator.State.Running == 0 && Gateway.Queue("m").InFlight == 0);
    }

    [Fact]
    public async Task In_stream_error_event_from_the_server_passes_through()
    {
        var events = await StreamAsync(("x-sim-fault", "stream-error-after=2"));

        Assert.Equal("InternalServerError", (string?)JsonNode.Parse(events[^2])!["error"]!["type"]);
        Assert.Equal("[DONE]", events[^1]);
    }

    [Fact]
    public async Task No_answer_within_the_first_byte_timeout_is_504()
    {
        using var response = await Gateway.Client.SendAsync(Chat("m", headers: ("x-sim-fault", "hang")), Token);

        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        Assert.Equal("upstream_timeout", (string?)(await ErrorAsync(response))["code"]);
        await AdmissionTests.WaitUntilAsync(() => Simulator.State.Running == 0);
    }

    [Fact]
    public async Task Error_status_from_the_server_is_passed_through()
    {
        using var response = await Gateway.Client.SendAsync(Chat("m", headers: ("x-sim-fault", "error=503")), Token);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        await ErrorAsync(response);
    }

    [Fact]
    public async Task A_half_sent_event_is_never_shown_to_the_client()
    {
        await using var upstream = await RecordingUpstream.StartAsync(async context =>
        {
            context.Response.ContentType = "text/event-stream";
            await context.Response.WriteAsync("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"one\"}}]}\n\n", context.RequestAborted);
            await context.Response.WriteAsync("data: {\"choices\":[{\"index\":0,\"del", context.RequestAborted);
            await context.Response.Body.FlushAsync(context.RequestAborted);
            await Task.Delay(100, context.RequestAborted);
            context.Abort();
        });
        await using var partialGateway = await GatewayServer.StartAsync("m", upstream.BaseAddress);

        using var response = await partialGateway.Client.SendAsync(Chat("m", stream: true), HttpCompletionOption.ResponseHeadersRead, Token);
        var events = await ReadEventsAsync(response, Token);

        Assert.Equal(3, events.Count);
        Assert.Equal("one", Content(events[..1]));
        Assert.Equal("upstream_stream_broken", ErrorCode(events[1]));
        Assert.Equal("[DONE]", events[2]);
    }

    private async Task<List<string>> StreamAsync(params (string Name, string Value)[] headers)
    {
        using var response = await Gateway.Client.SendAsync(Chat("m", stream: true, headers: headers), HttpCompletionOption.ResponseHeadersRead, Token);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        // Reading to the end without an exception is the point: the stream is ended, not cut.
        return await ReadEventsAsync(response, Token);
    }

    private static string? ErrorCode(string data) => (string?)JsonNode.Parse(data)!["error"]!["code"];
}
