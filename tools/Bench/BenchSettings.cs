namespace LlmAspire.Bench;

/// <summary>
/// How long the benchmark runs. Every measurement is a closed-loop run of <see cref="Measure"/> after
/// <see cref="Settle"/> of unmeasured load on the same target (connections open, pools warm); targets take turns in
/// each of <see cref="Rounds"/> rounds, after <see cref="Warmup"/> per target at start (JIT, tiering).
/// </summary>
internal sealed record BenchSettings(string Name, int Rounds, TimeSpan Measure, TimeSpan Settle, TimeSpan Warmup)
{
    public static BenchSettings Full { get; } = new("full", 6, TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(0.5), TimeSpan.FromSeconds(3));

    public static BenchSettings Quick { get; } = new("quick", 2, TimeSpan.FromSeconds(1.5), TimeSpan.FromSeconds(0.25), TimeSpan.FromSeconds(1));
}
