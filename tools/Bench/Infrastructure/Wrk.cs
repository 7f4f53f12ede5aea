using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace LlmAspire.Bench.Infrastructure;

/// <summary>
/// Non-streaming load through wrk, the C load generator nginx itself is usually measured with: on a 2-core machine
/// a lighter generator leaves more of the CPU to the servers being compared, so their differences show.
/// </summary>
public static partial class Wrk
{
    public sealed record Result(double P50Microseconds, double P99Microseconds, double RequestsPerSecond, long Errors);

    public static async Task<Result> RunAsync(Uri url, string scriptPath, int connections, TimeSpan duration)
    {
        var threads = Math.Min(connections, 2);
        var start = new ProcessStartInfo("wrk",
            ["-t", $"{threads}", "-c", $"{connections}", "-d", $"{(int)duration.TotalSeconds}s", "--latency", "-s", scriptPath, url.ToString()])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start wrk.");
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"wrk failed: {output}{await process.StandardError.ReadToEndAsync()}");
        }

        var errors = ErrorsPattern().Matches(output).Sum(match => long.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture))
            + (NonSuccessPattern().Match(output) is { Success: true } nonSuccess ? long.Parse(nonSuccess.Groups[1].Value, CultureInfo.InvariantCulture) : 0);
        return new Result(Percentile(output, "50%"), Percentile(output, "99%"),
            double.Parse(ThroughputPattern().Match(output).Groups[1].Value, CultureInfo.InvariantCulture), errors);
    }

    /// <summary>A wrk script that POSTs <paramref name="body"/> as JSON.</summary>
    public static string WriteScript(string directory, string name, string body)
    {
        var path = Path.Combine(directory, name + ".lua");
        File.WriteAllText(path, $"""
            wrk.method = "POST"
            wrk.body = '{body}'
            wrk.headers["Content-Type"] = "application/json"
            """);
        return path;
    }

    private static double Percentile(string output, string label)
    {
        var match = Regex.Match(output, $@"^\s*{Regex.Escape(label)}\s+([\d.]+)(us|ms|s)\s*$", RegexOptions.Multiline);
        if (!match.Success)
        {
            throw new InvalidOperationException($"wrk printed no {label} latency: {output}");
        }

        var value = double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
        return match.Groups[2].Value switch { "us" => value, "ms" => value * 1_000, _ => value * 1_000_000 };
    }

    [GeneratedRegex(@"Requests/sec:\s+([\d.]+)")]
    private static partial Regex ThroughputPattern();

    [GeneratedRegex(@"(?:connect|read|write|timeout) (\d+)")]
    private static partial Regex ErrorsPattern();

    [GeneratedRegex(@"Non-2xx or 3xx responses: (\d+)")]
    private static partial Regex NonSuccessPattern();
}
