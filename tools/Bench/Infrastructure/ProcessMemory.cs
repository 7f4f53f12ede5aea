using System.Globalization;

namespace LlmAspire.Bench.Infrastructure;

/// <summary>Resident memory of a server the benchmark started, from /proc (Linux).</summary>
internal static class ProcessMemory
{
    /// <summary>
    /// Resident set size of <paramref name="pid"/> plus its child processes' (nginx's workers), in bytes; NaN when the
    /// process is gone or /proc is unreadable.
    /// </summary>
    public static double ResidentBytes(int pid)
    {
        var own = ResidentKiB(pid);
        if (own is null)
        {
            return double.NaN;
        }

        var total = own.Value;
        foreach (var child in Children(pid))
        {
            total += ResidentKiB(child) ?? 0;
        }

        return total * 1024.0;
    }

    /// <summary>The soft limit on open files this process (and the servers it starts) runs with.</summary>
    public static long OpenFileLimit()
    {
        var line = File.ReadLines("/proc/self/limits").FirstOrDefault(l => l.StartsWith("Max open files", StringComparison.Ordinal));
        var fields = line?.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return fields is { Length: >= 4 } && long.TryParse(fields[3], NumberStyles.None, CultureInfo.InvariantCulture, out var soft) ? soft : 0;
    }

    private static long? ResidentKiB(int pid)
    {
        try
        {
            var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
            var fields = line?.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            return fields is { Length: >= 2 } && long.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out var kib) ? kib : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static IEnumerable<int> Children(int pid)
    {
        string text;
        try
        {
            text = File.ReadAllText($"/proc/{pid}/task/{pid}/children");
        }
        catch (IOException)
        {
            return [];
        }

        return text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(p => int.Parse(p, CultureInfo.InvariantCulture));
    }
}
