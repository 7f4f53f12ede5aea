using System.Text;
using System.Text.Json.Nodes;

namespace LlmAspire.Cache.Tests;

/// <summary>A streamed answer assembled into a completion and replayed as a stream keeps its content.</summary>
public sealed class StreamRoundTripTests
{
    private const string ChatStream = """
        data: {"id":"c1","object":"chat.completion.chunk","created":7,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}

        data: {"id":"c1","object":"chat.completion.chunk","created":7,"model":"m","choices":[{"index":0,"delta":{"content":"Hello"},"logprobs":null,"finish_reason":null}]}

        data: {"id":"c1","object":"chat.completion.chunk","created":7,"model":"m","choices":[{"index":0,"delta":{"content":" world"},"logprobs":null,"finish_reason":"stop"}]}

        data: {"id":"c1","object":"chat.completion.chunk","created":7,"model":"m","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}

        data: [DONE]


        """;

    [Fact]
    public void A_chat_stream_becomes_the_completion_a_plain_request_gets()
    {
        var completion = JsonNode.Parse(CompletionAssembler.FromServerSentEvents(Encoding.UTF8.GetBytes(ChatStream), CompletionKind.Chat)!)!;

        Assert.Equal("chat.completion", (string?)completion["object"]);
        Assert.Equal("c1", (string?)completion["id"]);
        Assert.Equal("Hello world", (string?)completion["choices"]![0]!["message"]!["content"]);
        Assert.Equal("assistant", (string?)completion["choices"]![0]!["message"]!["role"]);
        Assert.Equal("stop", (string?)completion["choices"]![0]!["finish_reason"]);
        Assert.Equal(2, (int)completion["usage"]!["completion_tokens"]!);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Replay_streams_the_same_content_and_usage_only_when_asked(bool includeUsage)
    {
        var completion = CompletionAssembler.FromServerSentEvents(Encoding.UTF8.GetBytes(ChatStream), CompletionKind.Chat)!;
        var replay = Encoding.UTF8.GetString(StreamReplay.ToServerSentEvents(completion, CompletionKind.Chat, includeUsage));
        var events = Events(replay);

        Assert.Equal("[DONE]", events[^1]);
        Assert.Equal("Hello world", string.Concat(events.SkipLast(1).Select(data => JsonNode.Parse(data))
            .SelectMany(chunk => chunk!["choices"]!.AsArray()).Select(choice => (string?)choice!["delta"]!["content"])));
        Assert.All(events.SkipLast(1), data => Assert.Equal("chat.completion.chunk", (string?)JsonNode.Parse(data)!["object"]));
        Assert.Equal(includeUsage, events.Any(data => data.Contains("\"usage\"", StringComparison.Ordinal)));
        Assert.Equal("stop", events.SkipLast(1).Select(data => JsonNode.Parse(data)).SelectMany(chunk => chunk!["choices"]!.AsArray())
            .Select(choice => (string?)choice!["finish_reason"]).Last(reason => reason is not null));

        // Replaying a replay's assembly gives the same completion back.
        Assert.Equal(
            JsonNode.Parse(completion)!["choices"]!.ToJsonString(),
            JsonNode.Parse(CompletionAssembler.FromServerSentEvents(Encoding.UTF8.GetBytes(replay), CompletionKind.Chat)!)!["choices"]!.ToJsonString());
    }

    [Fact]
    public void Tool_call_fragments_are_joined_and_replayed()
    {
        const string stream = """
            data: {"id":"c2","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"ci"}}]},"finish_reason":null}]}

            data: {"id":"c2","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"ty\":\"Oslo\"}"}}]},"finish_reason":"tool_calls"}]}

            data: [DONE]


            """;
        var completion = JsonNode.Parse(CompletionAssembler.FromServerSentEvents(Encoding.UTF8.GetBytes(stream), CompletionKind.Chat)!)!;
        var call = completion["choices"]![0]!["message"]!["tool_calls"]![0]!;

        Assert.Equal("call_1", (string?)call["id"]);
        Assert.Equal("get_weather", (string?)call["function"]!["name"]);
        Assert.Equal("{\"city\":\"Oslo\"}", (string?)call["function"]!["arguments"]);
        Assert.Null(completion["choices"]![0]!["message"]!["content"]);
    }

    [Fact]
    public void A_text_completion_stream_round_trips()
    {
        const string stream = """
            data: {"id":"t1","object":"text_completion","created":1,"model":"m","choices":[{"index":0,"text":"Once","logprobs":null,"finish_reason":null}]}

            data: {"id":"t1","object":"text_completion","created":1,"model":"m","choices":[{"index":0,"text":" upon","logprobs":null,"finish_reason":"length"}]}

            data: [DONE]


            """;
        var completion = CompletionAssembler.FromServerSentEvents(Encoding.UTF8.GetBytes(stream), CompletionKind.Text)!;
        Assert.Equal("Once upon", (string?)JsonNode.Parse(completion)!["choices"]![0]!["text"]);

        var replay = Events(Encoding.UTF8.GetString(StreamReplay.ToServerSentEvents(completion, CompletionKind.Text, includeUsage: false)));
        Assert.Equal("Once upon", string.Concat(replay.SkipLast(1).Select(data => (string?)JsonNode.Parse(data)!["choices"]![0]!["text"])));
    }

    [Theory]
    [InlineData("data: {\"id\":\"x\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"},\"finish_reason\":null}]}\n\n")]
    [InlineData("data: {\"id\":\"x\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"},\"finish_reason\":\"stop\"}]}\n\ndata: {\"error\":{\"message\":\"boom\"}}\n\ndata: [DONE]\n\n")]
    [InlineData("data: {\"id\":\"x\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"},\"logprobs\":{\"content\":[]},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n")]
    [InlineData("data: {\"id\":\"x\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"},\"finish_reason\":null}]}\n\ndata: [DONE]\n\n")]
    public void Unfinished_failed_or_log_probability_streams_are_not_stored(string stream) =>
        Assert.Null(CompletionAssembler.FromServerSentEvents(Encoding.UTF8.GetBytes(stream), CompletionKind.Chat));

    private static List<string> Events(string stream) => stream.Split('\n')
        .Where(line => line.StartsWith("data: ", StringComparison.Ordinal))
        .Select(line => line["data: ".Length..])
        .ToList();
}
