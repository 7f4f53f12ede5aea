using System.Globalization;
using System.Text;
using LlmAspire.VllmSimulator.SleepMode;

namespace LlmAspire.VllmSimulator.Metrics;

/// <summary>
/// <c>/metrics</c> in Prometheus text format with vLLM's metric names. Values are written as Python's
/// prometheus_client writes them ("3.0"), so a scraper tested here also parses a real vLLM.
/// </summary>
internal static class MetricsEndpoint
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    public static IEndpointRouteBuilder MapMetrics(this IEndpointRouteBuilder endpoints, Lazy<SimulatorState> state, Lazy<EngineSleep> sleep)
    {
        endpoints.MapGet("/metrics", context =>
        {
            context.Response.ContentType = ContentType;
            return context.Response.WriteAsync(Render(state.Value, sleep.Value), context.RequestAborted);
        });
        return endpoints;
    }

    private static string Render(SimulatorState state, EngineSleep sleep)
    {
        var text = new StringBuilder(2048);
        PerModel(text, state, "vllm:num_requests_running", "gauge", "Number of requests in model execution batches.", m => m.Running);
        PerModel(text, state, "vllm:num_requests_waiting", "gauge", "Number of requests waiting to be processed.", m => m.Waiting);
        PerModel(text, state, "vllm:request_success_total", "counter", "Count of successfully processed requests.", m => m.RequestsCompleted);
        PerModel(text, state, "vllm:prompt_tokens_total", "counter", "Number of prefill tokens processed.", m => m.PromptTokensTotal);
        PerModel(text, state, "vllm:generation_tokens_total", "counter", "Number of generation tokens processed.", m => m.GenerationTokensTotal);
        Single(text, "simulator_connections_opened_total", "counter", "TCP connections accepted since start.", state.ConnectionsOpened);
        Single(text, "simulator_connections_active", "gauge", "TCP connections currently open.", state.ConnectionsActive);
        Single(text, "simulator_sleeps_total", "counter", "Sleep calls answered (--enable-sleep-mode).", sleep.Sleeps);
        Single(text, "simulator_wake_ups_total", "counter", "wake_up calls answered (--enable-sleep-mode).", sleep.WakeUps);
        return text.ToString();
    }

    private static void PerModel(StringBuilder text, SimulatorState state, string name, string type, string help, Func<ServedModel, long> value)
    {
        Header(text, name, type, help);
        foreach (var model in state.Models)
        {
            text.Append(name).Append("{model_name=\"").Append(EscapeLabel(model.Name)).Append("\"} ");
            AppendValue(text, value(model));
        }
    }

    private static void Single(StringBuilder text, string name, string type, string help, long value)
    {
        Header(text, name, type, help);
        text.Append(name).Append(' ');
        AppendValue(text, value);
    }

    private static void Header(StringBuilder text, string name, string type, string help) =>
        text.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n')
            .Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');

    private static void AppendValue(StringBuilder text, long value) =>
        text.Append(value.ToString(CultureInfo.InvariantCulture)).Append(".0\n");

    private static string EscapeLabel(string value) =>
        value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
}
