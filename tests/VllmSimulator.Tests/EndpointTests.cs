using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace LlmAspire.VllmSimulator.Tests;

public sealed class DefaultSimulator : IAsyncLifetime
{
    public SimulatorServer Host { get; private set; } = null!;

    public async ValueTask InitializeAsync() => Host = await SimulatorServer.StartWithArgumentsAsync("--model", "sim-model,second-model");

    public ValueTask DisposeAsync() => Host.DisposeAsync();
}

/// <summary>The OpenAI/vLLM wire format of every endpoint, with the default (zero-delay) configuration.</summary>
public sealed partial class EndpointTests(DefaultSimulator simulator) : IClassFixture<DefaultSimulator>
{
    private const string Chat = """{"model":"sim-model","messages":[{"role":"user","content":"Tell me a story"}]}""";

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private HttpClient Client => simulator.Host.Client;

    [Fact]
    public async Task HealthAnswersEmpty200()
    {
        using var response = await Client.GetAsync("/health", Cancel);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("", await response.Content.ReadAsStringAsync(Cancel));
    }

    [Fact]
    public async Task ModelsListsEveryServedModelInVllmShape()
    {
        var body = await Client.GetStringAsync("/v1/models", Cancel);
        Assert.Matches(
            """^\{"object":"list","data":\[\{"id":"sim-model","object":"model","created":\d+,"owned_by":"vllm","root":"sim-model","parent":null,"max_model_len":8192\},\{"id":"second-model",.*\}\]\}$""",
            body);
    }

    [Fact]
    public async Task ChatCompletionHasVllmShapeAndConsistentUsage()
    {
        using var response = await Client.SendAsync(OpenAiRequests.Post("/v1/chat/completions", Chat), Cancel);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType!.ToString());
        var body = await response.Content.ReadAsStringAsync(Cancel);
        var match = ChatBody().Match(body);
        Assert.True(match.Success, body);
        var words = match.Groups["content"].Value.Split(' ');
        Assert.Equal(16, words.Length);
        Assert.Equal("stop", match.Groups["finish"].Value);
        Assert.Equal(4, int.Parse(match.Groups["prompt"].Value));
        Assert.Equal(16, int.Parse(match.Groups["completion"].Value));
        Assert.Equal(20, int.Parse(match.Groups["total"].Value));
    }

    [Theory]
    [InlineData("max_tokens")]
    [InlineData("max_completion_tokens")]
    public async Task MaxTokensCapsTheAnswerWithFinishReasonLength(string field)
    {
        var request = $$"""{"messages":[{"role":"user","content":"hi"}],"{{field}}":5}""";
        using var json = await PostJsonAsync("/v1/chat/completions", request);
        var choice = json.RootElement.GetProperty("choices")[0];
        Assert.Equal(5, choice.GetProperty("message").GetProperty("content").GetString()!.Split(' ').Length);
        Assert.Equal("length", choice.GetProperty("finish_reason").GetString());
        Assert.Equal(5, json.RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
    }

    [Fact]
    public async Task StreamedChatIsRoleChunkThenOneChunkPerTokenThenDone()
    {
        using var response = await Client.SendAsync(
            OpenAiRequests.Post("/v1/chat/completions", """{"messages":[{"role":"user","content":"hi"}],"stream":true,"max_tokens":4}"""),
            HttpCompletionOption.ResponseHeadersRead, Cancel);
        Assert.Equal("text/event-stream; charset=utf-8", response.Content.Headers.ContentType!.ToString());
        var events = await Sse.ReadEventsAsync(response, Cancel);

        Assert.Equal(6, events.Count);
        Assert.Matches(
            """^\{"id":"chatcmpl-[0-9a-f]{32}","object":"chat.completion.chunk","created":\d+,"model":"sim-model","choices":\[\{"index":0,"delta":\{"role":"assistant","content":""\},"logprobs":null,"finish_reason":null\}\]\}$""",
            events[0]);
        for (var i = 1; i <= 4; i++)
        {
            var finish = i == 4 ? "\"length\"" : "null";
            Assert.Matches(
                $$"""^\{"id":"chatcmpl-[0-9a-f]{32}","object":"chat.completion.chunk","created":\d+,"model":"sim-model","choices":\[\{"index":0,"delta":\{"content":"{{(i == 1 ? "" : " ")}}[a-z]+"\},"logprobs":null,"finish_reason":{{finish}}\}\]\}$""",
                events[i]);
        }

        Assert.Equal("[DONE]", events[^1]);
        Assert.Single(events.SkipLast(1).Select(e => ChunkId().Match(e).Value).Distinct());
    }

    [Fact]
    public async Task StreamedUsageComesOnlyWhenIncludeUsageIsSet()
    {
        const string Request = """{"messages":[{"role":"user","content":"a b c"}],"stream":true,"stream_options":{"include_usage":INCLUDE}}""";
        var without = await StreamAsync("/v1/chat/completions", Request.Replace("INCLUDE", "false", StringComparison.Ordinal));
        Assert.DoesNotContain(without, e => e.Contains("usage", StringComparison.Ordinal));

        var with = await StreamAsync("/v1/chat/completions", Request.Replace("INCLUDE", "true", StringComparison.Ordinal));
        Assert.Equal("[DONE]", with[^1]);
        Assert.Matches(
            """^\{"id":"chatcmpl-[0-9a-f]{32}","object":"chat.completion.chunk","created":\d+,"model":"sim-model","choices":\[\],"usage":\{"prompt_tokens":3,"total_tokens":19,"completion_tokens":16\}\}$""",
            with[^2]);
        Assert.Equal(16, with.Count(Sse.IsContentChunk));
    }

    [Fact]
    public async Task StreamedAndWholeAnswersOfOneRequestAreIdentical()
    {
        const string Request = """{"model":"sim-model","messages":[{"role":"user","content":"same question"}],"seed":7STREAM}""";
        using var whole = await PostJsonAsync("/v1/chat/completions", Request.Replace("STREAM", "", StringComparison.Ordinal));
        using var again = await PostJsonAsync("/v1/chat/completions", Request.Replace("STREAM", "", StringComparison.Ordinal));
        var events = await StreamAsync("/v1/chat/completions", Request.Replace("STREAM", ",\"stream\":true", StringComparison.Ordinal));

        var content = Content(whole);
        Assert.Equal(content, Content(again));
        Assert.Equal(content, string.Concat(events.Where(e => e != "[DONE]").Select(Sse.TokenText)));
    }

    [Fact]
    public async Task OutputDependsOnPromptSeedAndModel()
    {
        var baseline = Content(await PostJsonAsync("/v1/chat/completions", """{"messages":[{"role":"user","content":"q"}]}"""));
        var otherPrompt = Content(await PostJsonAsync("/v1/chat/completions", """{"messages":[{"role":"user","content":"r"}]}"""));
        var otherSeed = Content(await PostJsonAsync("/v1/chat/completions", """{"messages":[{"role":"user","content":"q"}],"seed":1}"""));
        var otherModel = Content(await PostJsonAsync("/v1/chat/completions", """{"model":"second-model","messages":[{"role":"user","content":"q"}]}"""));
        Assert.Equal(4, new[] { baseline, otherPrompt, otherSeed, otherModel }.Distinct().Count());
    }

    [Fact]
    public async Task PromptTokensCountWordsOfEveryMessageContent()
    {
        const string Request = """
            {"messages":[
              {"role":"system","content":"You are\nhelpful."},
              {"role":"user","content":[{"type":"text","text":"  one two\tthree "},{"type":"image_url","image_url":{"url":"x"}}]},
              {"role":"assistant","content":null}
            ]}
            """;
        using var json = await PostJsonAsync("/v1/chat/completions", Request);
        Assert.Equal(6, json.RootElement.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
    }

    [Fact]
    public async Task CompletionsAnswerWholeAndStreamed()
    {
        using var whole = await PostJsonAsync("/v1/completions", """{"model":"second-model","prompt":"Once upon a time","max_tokens":3}""");
        Assert.Matches(
            """^\{"id":"cmpl-[0-9a-f]{32}","object":"text_completion","created":\d+,"model":"second-model","choices":\[\{"index":0,"text":"[a-z]+ [a-z]+ [a-z]+","logprobs":null,"finish_reason":"length"\}\],"usage":\{"prompt_tokens":4,"total_tokens":7,"completion_tokens":3\}\}$""",
            whole.RootElement.GetRawText());

        var events = await StreamAsync("/v1/completions", """{"model":"second-model","prompt":"Once upon a time","max_tokens":3,"stream":true}""");
        Assert.Equal(4, events.Count);
        Assert.Matches(
            """^\{"id":"cmpl-[0-9a-f]{32}","object":"text_completion","created":\d+,"model":"second-model","choices":\[\{"index":0,"text":" [a-z]+","logprobs":null,"finish_reason":null\}\]\}$""",
            events[1]);
        Assert.Contains("\"finish_reason\":\"length\"", events[2], StringComparison.Ordinal);
        Assert.Equal(whole.RootElement.GetProperty("choices")[0].GetProperty("text").GetString(), string.Concat(events.SkipLast(1).Select(Sse.TokenText)));
    }

    [Fact]
    public async Task EmbeddingsAreDeterministicUnitVectorsInFloatAndBase64()
    {
        using var floats = await PostJsonAsync("/v1/embeddings", """{"model":"sim-model","input":["first text","second"]}""");
        var root = floats.RootElement;
        Assert.Equal("list", root.GetProperty("object").GetString());
        Assert.StartsWith("embd-", root.GetProperty("id").GetString(), StringComparison.Ordinal);
        Assert.Equal(3, root.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
        var data = root.GetProperty("data");
        Assert.Equal(2, data.GetArrayLength());
        var first = data[0].GetProperty("embedding").EnumerateArray().Select(e => e.GetSingle()).ToArray();
        Assert.Equal(16, first.Length);
        Assert.Equal(1.0, Math.Sqrt(first.Sum(x => (double)x * x)), 3);
        Assert.NotEqual(first, [.. data[1].GetProperty("embedding").EnumerateArray().Select(e => e.GetSingle())]);

        using var encoded = await PostJsonAsync("/v1/embeddings", """{"model":"sim-model","input":"first text","encoding_format":"base64"}""");
        var bytes = Convert.FromBase64String(encoded.RootElement.GetProperty("data")[0].GetProperty("embedding").GetString()!);
        var decoded = new float[bytes.Length / sizeof(float)];
        Buffer.BlockCopy(bytes, 0, decoded, 0, bytes.Length);
        Assert.Equal(first, decoded);
    }

    [Fact]
    public async Task UnknownModelIs404InOpenAiErrorShape()
    {
        using var response = await Client.SendAsync(
            OpenAiRequests.Post("/v1/chat/completions", """{"model":"nope","messages":[{"role":"user","content":"hi"}]}"""), Cancel);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal(
            """{"error":{"message":"The model `nope` does not exist.","type":"NotFoundError","param":"model","code":404}}""",
            await response.Content.ReadAsStringAsync(Cancel));
    }

    [Theory]
    [InlineData("/v1/chat/completions", """{"messages":[""", null)]
    [InlineData("/v1/chat/completions", """{"model":"sim-model"}""", "messages")]
    [InlineData("/v1/chat/completions", """{"messages":"hi"}""", "messages")]
    [InlineData("/v1/chat/completions", """{"messages":[],"max_tokens":0}""", "max_tokens")]
    [InlineData("/v1/chat/completions", """[1,2]""", null)]
    [InlineData("/v1/completions", """{"model":"sim-model"}""", "prompt")]
    [InlineData("/v1/embeddings", """{"input":[]}""", "input")]
    [InlineData("/v1/chat/completions", """{"messages":[{"role":"user","content":"cut \ud83d"}]}""", null)]
    [InlineData("/v1/embeddings", """{"input":["\ude00"]}""", null)]
    public async Task BadRequestsAre400InOpenAiErrorShape(string path, string body, string? param)
    {
        using var response = await Client.SendAsync(OpenAiRequests.Post(path, body), Cancel);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Cancel));
        var error = json.RootElement.GetProperty("error");
        Assert.Equal("BadRequestError", error.GetProperty("type").GetString());
        Assert.Equal(400, error.GetProperty("code").GetInt32());
        Assert.Equal(param, error.GetProperty("param").GetString());
        Assert.False(string.IsNullOrEmpty(error.GetProperty("message").GetString()));
    }

    [Theory]
    [InlineData("x-sim-ttft-ms", "-1")]
    [InlineData("x-sim-tokens-per-second", "fast")]
    [InlineData("x-sim-output-tokens", "0")]
    [InlineData("x-sim-fault", "explode")]
    public async Task InvalidOverrideHeaderIs400NamingTheHeader(string header, string value)
    {
        using var response = await Client.SendAsync(OpenAiRequests.Post("/v1/chat/completions", Chat, (header, value)), Cancel);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(header, await response.Content.ReadAsStringAsync(Cancel), StringComparison.Ordinal);
    }

    [Fact]
    public async Task OutputTokensHeaderOverridesTheConfiguredLength()
    {
        var events = await StreamAsync("/v1/completions", """{"prompt":"x","stream":true}""", ("x-sim-output-tokens", "7"));
        Assert.Equal(7, events.Count(Sse.IsContentChunk));
        Assert.Contains("\"finish_reason\":\"stop\"", events[^2], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(503, "ServiceUnavailableError")]
    [InlineData(429, "TooManyRequestsError")]
    [InlineData(500, "InternalServerError")]
    public async Task ErrorFaultAnswersThatStatusInOpenAiShape(int status, string type)
    {
        using var response = await Client.SendAsync(
            OpenAiRequests.Post("/v1/chat/completions", Chat.Replace("}]}", "}],\"stream\":true}", StringComparison.Ordinal), ("x-sim-fault", $"error={status}")),
            Cancel);
        Assert.Equal(status, (int)response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType!.ToString());
        Assert.Equal(
            $$$"""{"error":{"message":"Simulated error {{{status}}}.","type":"{{{type}}}","param":null,"code":{{{status}}}}}""",
            await response.Content.ReadAsStringAsync(Cancel));
    }

    [Fact]
    public async Task StreamErrorAfterSendsVllmErrorEventThenDoneUnder200()
    {
        var events = await StreamAsync(
            "/v1/chat/completions", """{"messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true}}""",
            ("x-sim-fault", "stream-error-after=3"));
        Assert.Equal(3, events.Count(Sse.IsContentChunk));
        Assert.Equal(
            """{"error":{"object":"error","message":"Simulated engine failure after 3 tokens.","type":"InternalServerError","param":null,"code":500}}""",
            events[^2]);
        Assert.Equal("[DONE]", events[^1]);
        Assert.DoesNotContain(events, e => e.Contains("usage", StringComparison.Ordinal));
        Assert.DoesNotContain(events, e => e.Contains("\"finish_reason\":\"", StringComparison.Ordinal));
    }

    [Fact]
    public async Task StreamErrorAfterIs500WhenNotStreaming()
    {
        using var response = await Client.SendAsync(OpenAiRequests.Post("/v1/chat/completions", Chat, ("x-sim-fault", "stream-error-after=2")), Cancel);
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Contains("\"type\":\"InternalServerError\"", await response.Content.ReadAsStringAsync(Cancel), StringComparison.Ordinal);
    }

    private async Task<JsonDocument> PostJsonAsync(string path, string body)
    {
        using var response = await Client.SendAsync(OpenAiRequests.Post(path, body), Cancel);
        var text = await response.Content.ReadAsStringAsync(Cancel);
        Assert.True(response.IsSuccessStatusCode, text);
        return JsonDocument.Parse(text);
    }

    private async Task<List<string>> StreamAsync(string path, string body, params (string, string)[] headers)
    {
        using var response = await Client.SendAsync(OpenAiRequests.Post(path, body, headers), HttpCompletionOption.ResponseHeadersRead, Cancel);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await Sse.ReadEventsAsync(response, Cancel);
    }

    private static string Content(JsonDocument json)
    {
        using (json)
        {
            return json.RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!;
        }
    }

    [GeneratedRegex("""^\{"id":"chatcmpl-[0-9a-f]{32}","object":"chat.completion","created":\d+,"model":"sim-model","choices":\[\{"index":0,"message":\{"role":"assistant","content":"(?<content>[a-z]+( [a-z]+)*)"\},"logprobs":null,"finish_reason":"(?<finish>stop|length)"\}\],"usage":\{"prompt_tokens":(?<prompt>\d+),"total_tokens":(?<total>\d+),"completion_tokens":(?<completion>\d+)\}\}$""")]
    private static partial Regex ChatBody();

    [GeneratedRegex("chatcmpl-[0-9a-f]+")]
    private static partial Regex ChunkId();
}
