using System.Text;

namespace LlmAspire.Cache.Tests;

public sealed class CacheRequestTests
{
    private const string Scope = "tenant:a";

    [Fact]
    public void Member_order_whitespace_number_spelling_and_escapes_do_not_change_the_key()
    {
        var a = Key("""{"model":"m","temperature":0,"messages":[{"role":"user","content":"Hi A"}],"max_tokens":10}""");
        var b = Key("""
            { "max_tokens": 1.0e1, "messages": [ { "content": "Hi \u0041", "role": "user" } ], "temperature": 0.0, "model": "m" }
            """);

        Assert.Equal(a.Key, b.Key);
    }

    [Theory]
    [InlineData("user", "\"alice\"")]
    [InlineData("stream", "true")]
    [InlineData("stream_options", "{\"include_usage\":true}")]
    [InlineData("metadata", "{\"trace\":\"x\"}")]
    [InlineData("store", "false")]
    public void Fields_that_do_not_decide_the_answer_are_not_in_the_key(string field, string value)
    {
        var plain = Key("""{"model":"m","temperature":0,"messages":[]}""");
        var with = Key($$"""{"model":"m","temperature":0,"messages":[],"{{field}}":{{value}}}""");

        Assert.Equal(plain.Key, with.Key);
    }

    [Theory]
    [InlineData("""{"model":"other","temperature":0,"messages":[{"role":"user","content":"x"}]}""")]
    [InlineData("""{"model":"m","temperature":0,"messages":[{"role":"user","content":"y"}]}""")]
    [InlineData("""{"model":"m","temperature":0,"messages":[{"role":"system","content":"x"}]}""")]
    [InlineData("""{"model":"m","temperature":0,"messages":[{"role":"user","content":"x"}],"max_tokens":5}""")]
    [InlineData("""{"model":"m","temperature":0,"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}}]}""")]
    [InlineData("""{"model":"m","temperature":0,"messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_object"}}""")]
    [InlineData("""{"model":"m","temperature":0,"messages":[{"role":"user","content":"x"}],"some_future_parameter":1}""")]
    public void Anything_that_can_change_the_answer_changes_the_key(string body)
    {
        var baseline = Key("""{"model":"m","temperature":0,"messages":[{"role":"user","content":"x"}]}""");

        Assert.NotEqual(baseline.Key, Key(body).Key);
    }

    [Fact]
    public void Message_order_matters()
    {
        var one = Key("""{"model":"m","temperature":0,"messages":[{"role":"user","content":"a"},{"role":"user","content":"b"}]}""");
        var two = Key("""{"model":"m","temperature":0,"messages":[{"role":"user","content":"b"},{"role":"user","content":"a"}]}""");

        Assert.NotEqual(one.Key, two.Key);
    }

    [Fact]
    public void The_scope_separates_tenants_and_the_operation_separates_endpoints()
    {
        var body = Encoding.UTF8.GetBytes("""{"model":"m","temperature":0,"prompt":"x"}""");

        Assert.NotEqual(Create(body, CompletionKind.Text, "tenant:a").Key, Create(body, CompletionKind.Text, "tenant:b").Key);
        Assert.NotEqual(Create(body, CompletionKind.Text, Scope).Key, Create(body, CompletionKind.Chat, Scope).Key);
        Assert.Contains("tenant:a", Create(body, CompletionKind.Text, "tenant:a").Key, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"model":"m","messages":[],"temperature":0}""", true)]
    [InlineData("""{"model":"m","messages":[],"temperature":0.0}""", true)]
    [InlineData("""{"model":"m","messages":[],"temperature":0.7,"seed":42}""", true)]
    [InlineData("""{"model":"m","messages":[],"seed":1}""", true)]
    [InlineData("""{"model":"m","messages":[]}""", false)]
    [InlineData("""{"model":"m","messages":[],"temperature":0.2}""", false)]
    [InlineData("""{"model":"m","messages":[],"seed":null}""", false)]
    public void Only_greedy_or_seeded_requests_are_deterministic(string body, bool deterministic) =>
        Assert.Equal(deterministic, Key(body).Deterministic);

    [Fact]
    public void Embeddings_are_always_deterministic() =>
        Assert.True(Create("""{"model":"e","input":"x"}"""u8.ToArray(), CompletionKind.Embeddings, Scope).Deterministic);

    [Theory]
    [InlineData("bypass", CacheDirective.Bypass)]
    [InlineData(" Force ", CacheDirective.Force)]
    [InlineData("no-store", CacheDirective.Bypass)]
    [InlineData(null, CacheDirective.Default)]
    [InlineData("whatever", CacheDirective.Default)]
    public void The_request_header_is_read_leniently(string? value, CacheDirective directive) =>
        Assert.Equal(directive, CacheHeaders.Parse(value));

    [Fact]
    public void Numbers_beyond_double_have_a_key_of_their_own()
    {
        var huge = Key("""{"model":"m","temperature":0,"messages":[],"logit_bias":{"1":1e400}}""");
        var larger = Key("""{"model":"m","temperature":0,"messages":[],"logit_bias":{"1":1e401}}""");
        var digits = Key($$"""{"model":"m","temperature":0,"messages":[],"seed":{{new string('9', 5_000)}}}""");

        Assert.NotEqual(huge.Key, larger.Key);
        Assert.True(digits.Deterministic);
    }

    [Theory]
    [InlineData("""{"model":"m","temperature":0,"messages":[{"role":"user","content":"cut \ud83d"}]}""")]
    [InlineData("""{"model":"m","temperature":0,"messages":[{"role":"user","content":"\ude00"}]}""")]
    public void Bodies_without_a_canonical_form_are_not_cached(string body) =>
        Assert.False(CacheRequest.TryCreate(Encoding.UTF8.GetBytes(body), CompletionKind.Chat, Scope, out _));

    private static CacheRequest Key(string body) => Create(Encoding.UTF8.GetBytes(body), CompletionKind.Chat, Scope);

    private static CacheRequest Create(byte[] body, CompletionKind kind, string scope)
    {
        Assert.True(CacheRequest.TryCreate(body, kind, scope, out var request));
        return request;
    }
}
