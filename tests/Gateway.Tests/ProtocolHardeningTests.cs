using System.Text;
using LlmAspire.Gateway.Tests.Infrastructure;
using LlmAspire.TestToolkit.HostileInput;
using Microsoft.Extensions.Logging;

namespace LlmAspire.Gateway.Tests;

/// <summary>
/// Requests Kestrel or the body reader refuse (bad framing, heads too large, bodies sent too slowly) are answered in
/// OpenAI's error shape like every other error, and a client's fault is never logged as the gateway's.
/// </summary>
public sealed class ProtocolHardeningTests : IAsyncLifetime
{
    private readonly LogCollector logs = new();
    private SimulatorServer simulator = null!;
    private GatewayServer gateway = null!;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        simulator = await SimulatorServer.StartAsync("m");
        gateway = await GatewayServer.StartAsync(GatewayServer.ModelSettings("m", simulator.BaseAddress), logs.AddTo);
    }

    public async ValueTask DisposeAsync()
    {
        await gateway.DisposeAsync();
        await simulator.DisposeAsync();
    }

    public static TheoryData<string, string, int, string> Refused => new()
    {
        { "headers too large", $"GET /v1/models HTTP/1.1\r\nHost: a\r\nX-Big: {new string('a', 40_000)}\r\n\r\n", 431, "request_headers_too_large" },
        { "too many headers", $"GET /v1/models HTTP/1.1\r\nHost: a\r\n{string.Concat(Enumerable.Range(0, 200).Select(i => $"X-{i}: v\r\n"))}\r\n", 431, "request_headers_too_large" },
        { "request line too long", $"GET /v1/{new string('a', 10_000)} HTTP/1.1\r\nHost: a\r\n\r\n", 414, "request_line_too_long" },
        { "not a request line", "GARBAGE\r\n\r\n", 400, "invalid_request" },
        { "NUL in the path", "GET /v1/models%00 HTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid_request" },
        { "Content-Length not a number", "POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n", 400, "invalid_request" },
        { "bad chunk size", "POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400, "invalid_request" },
        { "chunk longer than announced", "POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabcdef\r\n0\r\n\r\n", 400, "invalid_request" },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public async Task Refused_requests_get_an_openai_error_body_and_no_warning(string what, string request, int status, string code)
    {
        var response = await RawHttp.SendAsync(gateway.BaseAddress, Encoding.Latin1.GetBytes(request), Token);

        Assert.True(response.Status == status, $"{what}: {response.Status} {response.Text}");
        Assert.Equal("application/json", response.Headers["Content-Type"]);
        Assert.Null(ErrorShape.Problem(response.Body, ErrorShape.OpenAi));
        Assert.Contains($"\"code\":\"{code}\"", response.Text, StringComparison.Ordinal);
        Assert.DoesNotContain(logs.Entries, entry => entry.Level >= LogLevel.Warning);
    }

    [Fact]
    public async Task Bodies_sent_too_slowly_are_408_in_openai_shape_and_log_no_warning()
    {
        // Kestrel's minimum request body rate (240 bytes/s after a 5-second grace) ends these; nothing here times them.
        var slow = await Task.WhenAll(Enumerable.Range(0, 20).Select(async _ =>
        {
            using var client = await RawHttp.ConnectAsync(gateway.BaseAddress, Token);
            var stream = client.GetStream();
            await stream.WriteAsync("POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n{"u8.ToArray(), Token);
            return await RawHttp.ReadResponseAsync(stream, Token);
        }));

        Assert.All(slow, response =>
        {
            Assert.Equal(408, response.Status);
            Assert.Null(ErrorShape.Problem(response.Body, ErrorShape.OpenAi));
        });
        Assert.DoesNotContain(logs.Entries, entry => entry.Level >= LogLevel.Warning);

        using var healthy = await gateway.Client.SendAsync(OpenAiRequests.Chat("m"), Token);
        Assert.True(healthy.IsSuccessStatusCode);
    }
}
