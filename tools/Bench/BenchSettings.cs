namespace LlmAspire.Bench;

/// <summary>
/// How long the benchmark runs. Every measurement is a closed-loop run of <see cref="Measure"/> after
/// <see cref="Settle"/> of unmeasured load on the same target (connections open, pools warm); targets take turns in
/// each of <see cref="Rounds"/> rounds, after <see cref="Warmup"/> per target at start (JIT, tiering).
/// </summary>
internal sealed record BenchSettings(string Name, int Rounds, TimeSpan Measure, TimeSpan Settle, TimeSpan Warmup)
{
    /// <summary>
    /// Further gateways the proxy and fresh-process scenarios measure beside the default one, each with its own settings
    /// (environment spelling, e.g. <c>DOTNET_TieredPGO=0</c>): experiments compared in the same run, round by round.
    /// </summary>
    public IReadOnlyList<GatewayVariant> Variants { get; init; } = [];

    public static BenchSettings Full { get; } = new("full", 6, TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(0.5), TimeSpan.FromSeconds(3));

    public static BenchSettings Quick { get; } = new("quick", 2, TimeSpan.FromSeconds(1.5), TimeSpan.FromSeconds(0.25), TimeSpan.FromSeconds(1));
}

/// <summary>A gateway started with extra settings, named <c>gateway+Name</c> in the report.</summary>
internal sealed record GatewayVariant(string Name, IReadOnlyDictionary<string, string> Settings)
{
    /// <summary>Parses <c>name:KEY=VALUE,KEY=VALUE</c> (the bench's <c>--variant</c> option).</summary>
    public static GatewayVariant Parse(string text)
    {
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        var pairs = colon > 0 ? text[(colon + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries) : [];
        if (colon <= 0 || pairs.Length == 0 || pairs.Any(pair => pair.IndexOf('=', StringComparison.Ordinal) <= 0))
        {
            throw new ArgumentException($"--variant '{text}' is not name:KEY=VALUE[,KEY=VALUE...].");
        }

        return new GatewayVariant(text[..colon], pairs.ToDictionary(pair => pair[..pair.IndexOf('=', StringComparison.Ordinal)], pair => pair[(pair.IndexOf('=', StringComparison.Ordinal) + 1)..]));
    }
}
