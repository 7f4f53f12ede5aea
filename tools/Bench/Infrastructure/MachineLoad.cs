using System.Globalization;

namespace LlmAspire.Bench.Infrastructure;

/// <summary>How busy the machine's CPUs are, from /proc/stat: sampled before and after a run, when none of the
/// benchmark's servers is running, it shows whether anything else was competing with the measurements.</summary>
internal static class MachineLoad
{
    /// <summary>Percentage of CPU time spent not idle over <paramref name="window"/>; NaN when /proc/stat is unreadable.</summary>
    public static async Task<double> BusyPercentAsync(TimeSpan window, CancellationToken cancellation)
    {
        var before = Read();
        await Task.Delay(window, cancellation);
        var after = Read();
        if (before is null || after is null || after.Value.Total <= before.Value.Total)
        {
            return double.NaN;
        }

        var idle = after.Value.Idle - before.Value.Idle;
        return 100.0 * (1 - ((double)idle / (after.Value.Total - before.Value.Total)));
    }

    private static (long Total, long Idle)? Read()
    {
        try
        {
            // "cpu  user nice system idle iowait irq softirq steal ..." in clock ticks, all CPUs together.
            var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..]
                .Select(field => long.Parse(field, CultureInfo.InvariantCulture)).ToArray();
            return (fields.Take(8).Sum(), fields[3] + fields[4]);
        }
        catch (Exception e) when (e is IOException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }
}
