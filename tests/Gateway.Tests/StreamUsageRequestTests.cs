using System.Text.Json;
using LlmAspire.Gateway.Tests.Infrastructure;
using static LlmAspire.TestToolkit.OpenAiRequests;

namespace LlmAspire.Gateway.Tests;

/// <summary>
/// A stream is made to ask for its usage by changing only the bytes of <c>stream_options</c>: whatever else the body
/// holds (members given twice, numbers no machine type holds) reaches the model server exactly as the client sent it.
/// </summary>
public sealed class StreamUsageRequestTests : IAsyncLifetime
{
    private RecordingUpstream upstream = null!;
    private GatewayServer gateway = null!;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        upstream = await RecordingUpstream.StartAsync(async context =>
        {
            context.Response.ContentType = "text/event-stream";
            await context.Response.WriteAsync("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n\ndata: [DONE]\n\n", context.RequestAborted);
        });
        gateway = await GatewayServer.StartAsync("m", upstream.BaseAddress);
    }

    public async ValueTask DisposeAsync()
    {
        await gateway.DisposeAsync();
        await upstream.DisposeAsync();
    }

    [Theory]
    [InlineData("""{"model":"m","stream":true,"messages":[],"temperature":1e400,"temperature":0}""", """{"model":"m","stream":true,"messages":[],"temperature":1e400,"temperature":0}""")]
    [InlineData("""{"model":"m","stream":true,"stream_options":null,"messages":[]}""", """{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[]}""")]
    [InlineData("""{"model":"m","stream":true,"stream_options":{ },"messages":[]}""", """{"model":"m","stream":true,"stream_options":{"include_usage":true },"messages":[]}""")]
    [InlineData("""{"model":"m","stream":true,"stream_options":{"continuous_usage_stats":true},"messages":[]}""", """{"model":"m","stream":true,"stream_options":{"include_usage":true,"continuous_usage_stats":true},"messages":[]}""")]
    [InlineData("""{"model":"m","stream":true,"stream_options":{"include_usage":false},"messages":[],"n":1,"n":2}""", """{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[],"n":1,"n":2}""")]
    [InlineData("""{"model":"m","stream":true,"stream_options":{"include_usage":{"a":[1]}},"messages":[]}""", """{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[]}""")]
    public async Task Only_stream_options_changes_on_the_way_upstream(string sent, string forwarded)
    {
        using var response = await gateway.Client.SendAsync(Post("/v1/chat/completions", sent), HttpCompletionOption.ResponseHeadersRead, Token);
        await ReadEventsAsync(response, Token);

        var body = Assert.Single(upstream.Requests).Body;
        // The first case had no stream_options: it is added first thing in the object, the rest is the client's.
        Assert.Equal(sent.Contains("stream_options", StringComparison.Ordinal) ? forwarded : forwarded.Insert(1, "\"stream_options\":{\"include_usage\":true},"), body);
        using var document = JsonDocument.Parse(body);
        Assert.True(document.RootElement.GetProperty("stream_options").GetProperty("include_usage").GetBoolean());
    }
}
