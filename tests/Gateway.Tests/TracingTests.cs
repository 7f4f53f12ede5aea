using System.Collections.Concurrent;
using System.Diagnostics;
using LlmAspire.Gateway.Api.Telemetry;
using LlmAspire.Gateway.Tests.Infrastructure;
using static LlmAspire.TestToolkit.OpenAiRequests;

namespace LlmAspire.Gateway.Tests;

public sealed class TracingTests
{
    [Fact]
    public async Task Each_upstream_call_is_a_span_with_genai_attributes_and_the_trace_reaches_the_model_server()
    {
        var token = TestContext.Current.CancellationToken;
        var spans = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == GatewayMetrics.MeterName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);
        await using var upstream = await RecordingUpstream.StartAsync(context =>
        {
            context.Response.ContentType = "application/json";
            return context.Response.WriteAsync("""{"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":3,"total_tokens":10}}""");
        });
        await using var gateway = await GatewayServer.StartAsync("traced", upstream.BaseAddress);

        using var response = await gateway.Client.SendAsync(Chat("traced"), token);
        await AdmissionTests.WaitUntilAsync(() => spans.Any(span => (string?)span.GetTagItem("gen_ai.request.model") == "traced"));

        var span = spans.Single(span => (string?)span.GetTagItem("gen_ai.request.model") == "traced");
        Assert.Equal("chat traced", span.DisplayName);
        Assert.Equal(ActivityKind.Client, span.Kind);
        Assert.Equal("chat", span.GetTagItem("gen_ai.operation.name"));
        Assert.Equal(7L, span.GetTagItem("gen_ai.usage.input_tokens"));
        Assert.Equal(3L, span.GetTagItem("gen_ai.usage.output_tokens"));
        var traceparent = Assert.Single(upstream.Requests).TraceParent;
        Assert.Contains(span.TraceId.ToHexString(), traceparent, StringComparison.Ordinal);
    }
}
