namespace LlmAspire.Bench.Infrastructure;

/// <summary>Percentiles of a set of samples (microseconds, by convention of this tool).</summary>
internal sealed class Distribution
{
    private readonly double[] sorted;

    public Distribution(IEnumerable<double> samples)
    {
        sorted = samples.Order().ToArray();
    }

    public int Count => sorted.Length;

    public double P50 => Percentile(0.50);

    public double P99 => Percentile(0.99);

    /// <summary>Nearest-rank percentile; NaN when there are no samples.</summary>
    public double Percentile(double fraction) => sorted.Length == 0
        ? double.NaN
        : sorted[Math.Clamp((int)Math.Ceiling(fraction * sorted.Length) - 1, 0, sorted.Length - 1)];

    /// <summary>The median of per-round values: rounds are interleaved across targets so noise hits all alike.</summary>
    public static double Median(IEnumerable<double> values)
    {
        var ordered = values.Order().ToArray();
        return ordered.Length switch
        {
            0 => double.NaN,
            var n when n % 2 == 1 => ordered[n / 2],
            var n => (ordered[(n / 2) - 1] + ordered[n / 2]) / 2,
        };
    }
}
