using System.ComponentModel.DataAnnotations;

namespace LlmAspire.VllmSimulator;

/// <summary>
/// How the simulated model server behaves. Bound from the "Simulator" configuration section; every value also has a
/// command-line switch (see <see cref="SimulatorApplication"/>) and can be set per request through x-sim-* headers.
/// </summary>
public sealed class SimulatorOptions
{
    public const string SectionName = "Simulator";

    /// <summary>Served model name; several comma-separated names serve several independent models.</summary>
    [Required]
    public string Model { get; set; } = "sim-model";

    /// <summary>Time to first token (prefill), in milliseconds.</summary>
    [Range(0, 3_600_000)]
    public int TtftMs { get; set; }

    /// <summary>Decode speed; 0 streams every token without any delay, otherwise at least 0.01.</summary>
    [Range(0.0, 1_000_000.0)]
    public double TokensPerSecond { get; set; }

    /// <summary>Tokens a request generates unless its max_tokens is smaller.</summary>
    [Range(1, 1_000_000)]
    public int OutputTokens { get; set; } = 16;

    /// <summary>Model load time: the server does not listen before it has passed, like vLLM.</summary>
    [Range(0, 3_600_000)]
    public int StartupDelayMs { get; set; }

    /// <summary>Requests running at once per model; the rest wait in FIFO order like vLLM's scheduler queue.</summary>
    [Range(1, 100_000)]
    public int MaxConcurrency { get; set; } = 256;

    /// <summary>Fault applied to every request that does not name its own (see <c>x-sim-fault</c>).</summary>
    public string? Fault { get; set; }

    [Range(1, 65_536)]
    public int EmbeddingDimensions { get; set; } = 16;

    /// <summary>vLLM's <c>--enable-sleep-mode</c>: serves <c>/sleep</c>, <c>/wake_up</c>, <c>/is_sleeping</c> and <c>/collective_rpc</c>.</summary>
    public bool EnableSleepMode { get; set; }

    /// <summary>How long <c>/sleep</c> takes (weights offloaded or discarded).</summary>
    [Range(0, 3_600_000)]
    public int SleepDelayMs { get; set; }

    /// <summary>How long each <c>/wake_up</c> (and a <c>reload_weights</c> after level 2) takes.</summary>
    [Range(0, 3_600_000)]
    public int WakeDelayMs { get; set; }
}
