using LlmAspire.Gateway.Tests.Infrastructure;
using static LlmAspire.TestToolkit.OpenAiRequests;

namespace LlmAspire.Gateway.Tests;

/// <summary>
/// Only the request headers a model server needs, and those an operator adds, reach it: the client's credentials,
/// who it is and where it came from stay at the gateway.
/// </summary>
public sealed class HeaderForwardingTests : IAsyncLifetime
{
    private static readonly (string Name, string Value)[] ClientHeaders =
    [
        ("Cookie", "session=secret"),
        ("X-Forwarded-For", "203.0.113.7"),
        ("X-Forwarded-Host", "evil.example"),
        ("Forwarded", "for=203.0.113.7"),
        ("X-Real-IP", "203.0.113.7"),
        ("User-Agent", "curl/8"),
        ("Referer", "https://evil.example/"),
        ("X-Llmaspire-Cache", "force"),
        ("Accept", "text/event-stream"),
        ("X-Request-Id", "client-chosen"),
    ];

    private RecordingUpstream upstream = null!;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => upstream = await RecordingUpstream.StartAsync(async context =>
    {
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync("""{"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1}}""", context.RequestAborted);
    });

    public async ValueTask DisposeAsync() => await upstream.DisposeAsync();

    [Fact]
    public async Task Identity_credentials_and_client_headers_stay_at_the_gateway_and_configured_ones_pass()
    {
        await using var gateway = await GatewayServer.StartAsync(GatewayServer.ModelSettings("m", upstream.BaseAddress, ("UpstreamApiKey", "model-key"))
            .Append(KeyValuePair.Create("Gateway:Upstream:ForwardedRequestHeaders:9", "X-Request-Id")));

        using var response = await gateway.Client.SendAsync(Chat("m", headers: [.. ClientHeaders, ("Authorization", "Bearer client-key")]), Token);
        response.EnsureSuccessStatusCode();

        var seen = Assert.Single(upstream.Requests).Headers;
        Assert.Equal("Bearer model-key", seen["Authorization"]);
        Assert.Equal("text/event-stream", seen["Accept"]);
        Assert.Equal("client-chosen", seen["X-Request-Id"]);
        Assert.StartsWith("application/json", seen["Content-Type"], StringComparison.Ordinal);
        foreach (var name in new[] { "Cookie", "X-Forwarded-For", "X-Forwarded-Host", "Forwarded", "X-Real-IP", "User-Agent", "Referer", "X-Llmaspire-Cache" })
        {
            Assert.False(seen.ContainsKey(name), $"{name} reached the model server");
        }
    }
}
