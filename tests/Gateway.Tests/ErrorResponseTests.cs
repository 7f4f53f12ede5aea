using System.Net;
using System.Text;
using LlmAspire.Gateway.Tests.Infrastructure;
using LlmAspire.TestToolkit.Servers;
using static LlmAspire.TestToolkit.OpenAiRequests;

namespace LlmAspire.Gateway.Tests;

/// <summary>Bad input gets an OpenAI-shaped error with the right status, never a 500; nothing reaches the model server.</summary>
public sealed class ErrorResponseTests : IAsyncLifetime
{
    private RecordingUpstream upstream = null!;
    private GatewayServer gateway = null!;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        upstream = await RecordingUpstream.StartAsync(context => context.Response.WriteAsync("{}"));
        gateway = await GatewayServer.StartAsync(
            GatewayServer.ModelSettings("m", upstream.BaseAddress).Append(KeyValuePair.Create("Gateway:MaxRequestBodyBytes", "2048")));
    }

    public async ValueTask DisposeAsync()
    {
        await gateway.DisposeAsync();
        await upstream.DisposeAsync();
    }

    [Theory]
    [InlineData("/v1/chat/completions", "{\"model\":\"m\",\"messages\":[", null, "invalid_json")]
    [InlineData("/v1/chat/completions", "not json", null, "invalid_json")]
    [InlineData("/v1/chat/completions", "[1,2]", null, "invalid_request")]
    [InlineData("/v1/chat/completions", "{\"model\":\"m\",\"messages\":[]} {}", null, "invalid_json")]
    [InlineData("/v1/chat/completions", "{\"messages\":[]}", "model", "missing_required_parameter")]
    [InlineData("/v1/chat/completions", "{\"model\":42,\"messages\":[]}", "model", "invalid_request")]
    [InlineData("/v1/chat/completions", "{\"model\":\"m\"}", "messages", "missing_required_parameter")]
    [InlineData("/v1/chat/completions", "{\"model\":\"m\",\"messages\":[],\"stream\":\"yes\"}", "stream", "invalid_request")]
    [InlineData("/v1/completions", "{\"model\":\"m\",\"messages\":[]}", "prompt", "missing_required_parameter")]
    [InlineData("/v1/embeddings", "{\"model\":\"m\",\"prompt\":\"x\"}", "input", "missing_required_parameter")]
    [InlineData("/v1/chat/completions", "", null, "invalid_json")]
    [InlineData("/v1/chat/completions", "{\"model\":\"m\",\"model\":\"x\",\"messages\":[]}", "model", "duplicate_parameter")]
    [InlineData("/v1/chat/completions", "{\"model\":\"m\",\"stream\":true,\"stream\":false,\"messages\":[]}", "stream", "duplicate_parameter")]
    [InlineData("/v1/chat/completions", "{\"model\":\"m\",\"stream_options\":{\"include_usage\":true,\"include_usage\":false},\"messages\":[]}", "stream_options.include_usage", "duplicate_parameter")]
    [InlineData("/v1/chat/completions", "{\"model\":\"m\\ud83d\",\"messages\":[]}", "model", "invalid_request")]
    public async Task Malformed_or_incomplete_bodies_are_400(string path, string body, string? param, string code)
    {
        using var response = await gateway.Client.SendAsync(Post(path, body), Token);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = await ErrorAsync(response);
        Assert.Equal("invalid_request_error", (string?)error["type"]);
        Assert.Equal(param, (string?)error["param"]);
        Assert.Equal(code, (string?)error["code"]);
        Assert.Empty(upstream.Requests);
    }

    [Fact]
    public async Task Unknown_model_is_404()
    {
        using var response = await gateway.Client.SendAsync(Chat("gpt-unknown"), Token);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        var error = await ErrorAsync(response);
        Assert.Equal("model_not_found", (string?)error["code"]);
        Assert.Equal("model", (string?)error["param"]);
    }

    [Fact]
    public async Task Body_over_the_limit_is_413_with_or_without_a_content_length()
    {
        var big = Chat("m", prompt: new string('x', 4096));
        using var declared = await gateway.Client.SendAsync(big, Token);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, declared.StatusCode);
        Assert.Equal("request_too_large", (string?)(await ErrorAsync(declared))["code"]);

        using var chunked = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(new string(' ', 4096) + "{}"))),
        };
        chunked.Headers.TransferEncodingChunked = true;
        using var streamed = await gateway.Client.SendAsync(chunked, Token);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, streamed.StatusCode);
        Assert.Equal("request_too_large", (string?)(await ErrorAsync(streamed))["code"]);
        Assert.Empty(upstream.Requests);
    }

    [Fact]
    public async Task Unknown_paths_and_methods_answer_in_openai_shape()
    {
        using var missing = await gateway.Client.GetAsync("/v1/nothing-here", Token);
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("unknown_url", (string?)(await ErrorAsync(missing))["code"]);

        using var wrongMethod = await gateway.Client.GetAsync("/v1/chat/completions", Token);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, wrongMethod.StatusCode);
        await ErrorAsync(wrongMethod);
    }

    [Fact]
    public async Task Unreachable_model_server_is_502_after_one_retry()
    {
        var closedPort = Loopback.FreePort();
        await using var unreachable = await GatewayServer.StartAsync("m", new Uri($"http://127.0.0.1:{closedPort}"), ("ConnectTimeout", "00:00:02"));
        using var metrics = new MetricRecorder(unreachable.Services, "llmaspire.gateway.upstream.connect_retries");

        using var response = await unreachable.Client.SendAsync(Chat("m"), Token);

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal("upstream_unreachable", (string?)(await ErrorAsync(response))["code"]);
        Assert.Equal(1, metrics.Sum("llmaspire.gateway.upstream.connect_retries"));
    }
}
