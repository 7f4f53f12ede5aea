using System.Net;
using System.Text.Json.Nodes;
using LlmAspire.Gateway.Tests.Infrastructure;
using static LlmAspire.TestToolkit.OpenAiRequests;

namespace LlmAspire.Gateway.Tests;

public sealed class ForwardingTests() : SimulatedModelTests("m", ["--output-tokens", "12"])
{
    private const string ChatAnswer = "{\"object\":\"chat.completion\",\"choices\":[]}";

    private HttpClient direct = null!;

    public override async ValueTask InitializeAsync()
    {
        await base.InitializeAsync();
        direct = new HttpClient { BaseAddress = Simulator.BaseAddress };
    }

    public override async ValueTask DisposeAsync()
    {
        direct.Dispose();
        await base.DisposeAsync();
    }

    [Fact]
    public async Task Chat_completion_is_the_model_servers_answer()
    {
        using var viaGateway = await Gateway.Client.SendAsync(Chat("m", prompt: "hello there"), Token);
        using var viaDirect = await direct.SendAsync(Chat("m", prompt: "hello there"), Token);

        Assert.Equal(HttpStatusCode.OK, viaGateway.StatusCode);
        Assert.Equal(viaDirect.Content.Headers.ContentType, viaGateway.Content.Headers.ContentType);
        Assert.Equal(
            WithoutVolatileFields(await viaDirect.Content.ReadAsStringAsync(Token)),
            WithoutVolatileFields(await viaGateway.Content.ReadAsStringAsync(Token)));
    }

    [Fact]
    public async Task Streamed_chat_is_forwarded_event_for_event()
    {
        using var viaGateway = await Gateway.Client.SendAsync(Chat("m", stream: true, extra: new { stream_options = new { include_usage = true } }), HttpCompletionOption.ResponseHeadersRead, Token);
        using var viaDirect = await direct.SendAsync(Chat("m", stream: true, extra: new { stream_options = new { include_usage = true } }), HttpCompletionOption.ResponseHeadersRead, Token);

        Assert.Equal("text/event-stream", viaGateway.Content.Headers.ContentType?.MediaType);
        var expected = (await ReadEventsAsync(viaDirect, Token)).Select(WithoutVolatileFields).ToList();
        var actual = (await ReadEventsAsync(viaGateway, Token)).Select(WithoutVolatileFields).ToList();
        Assert.Equal(expected, actual);
        Assert.Equal("[DONE]", actual[^1]);
        Assert.Equal(12, (int)JsonNode.Parse(actual[^2])!["usage"]!["completion_tokens"]!);
    }

    [Fact]
    public async Task Usage_chunk_the_gateway_asked_for_is_not_shown_to_a_client_that_did_not()
    {
        using var response = await Gateway.Client.SendAsync(Chat("m", stream: true), HttpCompletionOption.ResponseHeadersRead, Token);
        var events = await ReadEventsAsync(response, Token);

        using var whole = await Gateway.Client.SendAsync(Chat("m"), Token);
        var answer = (string?)JsonNode.Parse(await whole.Content.ReadAsStringAsync(Token))!["choices"]![0]!["message"]!["content"];

        Assert.Equal("[DONE]", events[^1]);
        Assert.DoesNotContain(events, data => data.Contains("\"usage\":{", StringComparison.Ordinal));
        Assert.Equal(answer, Content(events));
    }

    [Fact]
    public async Task Token_usage_and_time_to_first_token_are_measured_whether_or_not_the_client_asked_for_usage()
    {
        using var metrics = new MetricRecorder(Gateway.Services, "gen_ai.client.token.usage", "gen_ai.server.time_to_first_token", "gen_ai.client.operation.duration");

        using var streamed = await Gateway.Client.SendAsync(Chat("m", stream: true), HttpCompletionOption.ResponseHeadersRead, Token);
        await ReadEventsAsync(streamed, Token);
        using var whole = await Gateway.Client.SendAsync(Chat("m"), Token);
        var usage = JsonNode.Parse(await whole.Content.ReadAsStringAsync(Token))!["usage"]!;
        // The gateway records a request just after its last byte reaches the client, one instrument after the other.
        await AdmissionTests.WaitUntilAsync(() => metrics.Select("gen_ai.client.operation.duration").Count == 2
            && metrics.Select("gen_ai.client.token.usage", "gen_ai.token.type", "output").Count >= 2);

        Assert.Equal([12.0, 12.0], metrics.Select("gen_ai.client.token.usage", "gen_ai.token.type", "output"));
        Assert.Equal([(double)(int)usage["prompt_tokens"]!, (int)usage["prompt_tokens"]!], metrics.Select("gen_ai.client.token.usage", "gen_ai.token.type", "input"));
        Assert.Single(metrics.Select("gen_ai.server.time_to_first_token"));
        Assert.Equal(2, metrics.Select("gen_ai.client.operation.duration", "gen_ai.request.model", "m").Count);
    }

    [Fact]
    public async Task Completions_and_embeddings_are_forwarded()
    {
        using var completion = await Gateway.Client.SendAsync(Post("/v1/completions", """{"model":"m","prompt":"Once upon a time","max_tokens":5}"""), Token);
        Assert.Equal(HttpStatusCode.OK, completion.StatusCode);
        var completionBody = JsonNode.Parse(await completion.Content.ReadAsStringAsync(Token))!;
        Assert.Equal("text_completion", (string?)completionBody["object"]);
        Assert.Equal(5, (int)completionBody["usage"]!["completion_tokens"]!);

        using var embedding = await Gateway.Client.SendAsync(Post("/v1/embeddings", """{"model":"m","input":["a b","c"]}"""), Token);
        Assert.Equal(HttpStatusCode.OK, embedding.StatusCode);
        var embeddingBody = JsonNode.Parse(await embedding.Content.ReadAsStringAsync(Token))!;
        Assert.Equal(2, embeddingBody["data"]!.AsArray().Count);
    }

    [Fact]
    public async Task Models_lists_the_routed_models()
    {
        var body = JsonNode.Parse(await Gateway.Client.GetStringAsync("/v1/models", Token))!;

        Assert.Equal("list", (string?)body["object"]);
        Assert.Equal(["m"], body["data"]!.AsArray().Select(model => (string?)model!["id"]));
    }

    [Fact]
    public async Task Client_credentials_are_not_forwarded_to_the_model_server()
    {
        await using var upstream = await RecordingUpstream.StartAsync(async context =>
        {
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(ChatAnswer);
        });
        await using var keyed = await GatewayServer.StartAsync("m", upstream.BaseAddress, ("UpstreamApiKey", "server-secret"));
        using var request = Chat("m");
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "client-key");

        using var response = await keyed.Client.SendAsync(request, Token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(["Bearer server-secret"], upstream.Requests.Select(seen => seen.Authorization));
    }

    /// <summary>Ids and timestamps are generated per response; everything else must match byte for byte.</summary>
    private static string WithoutVolatileFields(string json)
    {
        if (json == "[DONE]")
        {
            return json;
        }

        var node = JsonNode.Parse(json)!.AsObject();
        node.Remove("id");
        node.Remove("created");
        return node.ToJsonString();
    }
}
