using System.Diagnostics.Metrics;

namespace LlmAspire.ModelManager.Telemetry;

/// <summary>
/// The <c>LlmAspire.ModelManager</c> meter: cold starts, wake-ups, loaded models, state transitions, failed starts. It only
/// records; what counts as a transition or a loaded model is the lifecycle's to say.
/// </summary>
internal sealed class ModelManagerMetrics
{
    public const string MeterName = "LlmAspire.ModelManager";

    private readonly Histogram<double> coldStart;
    private readonly Histogram<double> wake;
    private readonly UpDownCounter<int> loaded;
    private readonly Counter<long> transitions;
    private readonly Counter<long> failures;

    public ModelManagerMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        coldStart = meter.CreateHistogram<double>(
            "llmaspire.modelmanager.cold_start.duration", "s", "From the start request to the server passing its readiness checks.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 90, 120, 180, 300, 600] });
        wake = meter.CreateHistogram<double>(
            "llmaspire.modelmanager.wake.duration", "s", "From the start request to a sleeping server being awake (vLLM sleep mode).",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60] });
        loaded = meter.CreateUpDownCounter<int>("llmaspire.modelmanager.models.loaded", "{model}", "Models whose server is ready.");
        transitions = meter.CreateCounter<long>("llmaspire.modelmanager.state.transitions", "{transition}", "Model state changes.");
        failures = meter.CreateCounter<long>("llmaspire.modelmanager.start.failures", "{failure}", "Starts that failed or timed out.");
    }

    public void ColdStart(string model, string runtime, TimeSpan duration) =>
        coldStart.Record(duration.TotalSeconds, new("llmaspire.model", model), new("llmaspire.runtime", runtime));

    public void Woken(string model, string runtime, TimeSpan duration) =>
        wake.Record(duration.TotalSeconds, new("llmaspire.model", model), new("llmaspire.runtime", runtime));

    /// <summary>A state change, by the states' API names.</summary>
    public void Transition(string model, string from, string to) =>
        transitions.Add(1, new("llmaspire.model", model), new("llmaspire.state.from", from), new("llmaspire.state.to", to));

    /// <summary>A model's server became ready (+1) or stopped being ready (−1).</summary>
    public void LoadedChanged(string model, int change) =>
        loaded.Add(change, new KeyValuePair<string, object?>("llmaspire.model", model));

    public void StartFailed(string model, string runtime) =>
        failures.Add(1, new("llmaspire.model", model), new("llmaspire.runtime", runtime));
}
