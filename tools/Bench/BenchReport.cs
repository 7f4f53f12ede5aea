using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using LlmAspire.Bench.Infrastructure;
using LlmAspire.Bench.Scenarios;

namespace LlmAspire.Bench;

/// <summary>docs/benchmarks.md: how and where the numbers were taken, the bars, then one section per scenario.</summary>
internal sealed class BenchReport(BenchSettings settings, string repositoryRoot)
{
    private readonly List<(string Title, ScenarioResult Result)> sections = [];
    private readonly DateTime started = DateTime.UtcNow;

    public int FailedRequests => sections.Sum(section => section.Result.FailedRequests);

    /// <summary>CPU busy (%) with none of the benchmark's servers running, just before and just after the run.</summary>
    public (double Before, double After) CpuBusyWithoutServers { get; set; } = (double.NaN, double.NaN);

    public void Add(string title, ScenarioResult result) => sections.Add((title, result));

    public string ToMarkdown()
    {
        var text = new StringBuilder();
        text.AppendLine("# Benchmarks");
        text.AppendLine();
        text.AppendLine("Written by `eng/bench.sh` (`tools/Bench`); do not edit by hand. Every number comes from one run on one machine:");
        text.AppendLine("the targets of a scenario are measured in the same run, taking turns round by round so that noise hits all of them");
        text.AppendLine("alike, and each number is the median over the rounds of that round's value. The load generator, the servers and");
        text.AppendLine("the proxies share the machine's cores, so absolute numbers are low and ratios are what to compare.");
        text.AppendLine();
        text.AppendLine("Run `eng/bench.sh` (about 25 minutes, more with `--variant`s; builds the simulator, the gateway, the bare YARP forwarder and the bench in Release, installs nginx,");
        text.AppendLine("redis-server, PostgreSQL and the peer gateway if missing, rewrites this file) or `eng/bench.sh --quick` (about a minute, writes `artifacts/benchmarks-quick.md`).");
        text.AppendLine("Every server listens on 127.0.0.1 only and is stopped at the end of the run, also on Ctrl+C.");
        text.AppendLine();
        text.AppendLine("## Run");
        text.AppendLine();
        text.AppendLine($"- date: {started.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture)} UTC, commit {Git("rev-parse", "--short", "HEAD")}{(Git("status", "--porcelain", "--", "Gateway.Api", "ServiceDefaults", "tools/VllmSimulator", "tools/Bench").Length > 0 ? " (with local changes)" : "")}");
        text.AppendLine($"- machine: {Environment.ProcessorCount} cores ({CpuModel()}), {MemoryGiB()} GiB memory, {RuntimeInformation.OSDescription}");
        text.AppendLine($"- software: .NET {Environment.Version}, {Servers.FirstLine("nginx", "-v")}, {Servers.PortkeyVersion(repositoryRoot)} on Node {Servers.FirstLine("node", "--version")}");
        text.AppendLine($"- CPU busy before / after the run (1 s each, the benchmark's servers not running): {Percent(CpuBusyWithoutServers.Before)} / {Percent(CpuBusyWithoutServers.After)}; anything else running adds noise");
        text.AppendLine($"- {settings.Name} run: {settings.Rounds} rounds; each measurement {Seconds(settings.Measure)} s of closed-loop load after {Seconds(settings.Settle)} s unmeasured on the same target; {Seconds(settings.Warmup)} s warm-up per target and load first");
        text.AppendLine("- latency: from sending the request to reading the last byte of the response; TTFT: from sending the request to");
        text.AppendLine("  reading the first event with a token (not the assistant-role event); gap: between reads that completed consecutive token events");
        text.AppendLine("- added latency: target − direct, same percentile, same run");
        foreach (var variant in settings.Variants)
        {
            text.AppendLine($"- variant gateway+{variant.Name}: {string.Join(", ", variant.Settings.Select(kv => $"`{kv.Key}={kv.Value}`"))}");
        }

        text.AppendLine();
        text.AppendLine("## Bars");
        text.AppendLine();
        var bars = new MarkdownTable("bar", "measured", "met") { TextColumns = true };
        foreach (var bar in sections.SelectMany(section => section.Result.Bars))
        {
            bars.Add(bar.Target, bar.Measured, bar.Met ? "yes" : "**no**");
        }

        text.Append(bars);
        foreach (var (title, result) in sections)
        {
            text.AppendLine();
            text.AppendLine($"## {title}");
            text.AppendLine();
            text.Append(result.Markdown);
        }

        return text.ToString();
    }

    private static string Seconds(TimeSpan duration) => duration.TotalSeconds.ToString("0.##", CultureInfo.InvariantCulture);

    private static string CpuModel() => ReadField("/proc/cpuinfo", "model name") ?? RuntimeInformation.ProcessArchitecture.ToString();

    private static string Percent(double value) => double.IsFinite(value) ? value.ToString("F0", CultureInfo.InvariantCulture) + " %" : "?";

    private static string MemoryGiB()
    {
        var kib = ReadField("/proc/meminfo", "MemTotal")?.Split(' ')[0];
        return long.TryParse(kib, out var value) ? (value / 1024.0 / 1024.0).ToString("F1", CultureInfo.InvariantCulture) : "?";
    }

    private static string? ReadField(string path, string key)
    {
        try
        {
            return File.ReadLines(path).Where(line => line.StartsWith(key, StringComparison.Ordinal))
                .Select(line => line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim()).FirstOrDefault();
        }
        catch (IOException)
        {
            return null;
        }
    }

    private string Git(params string[] arguments)
    {
        try
        {
            using var git = Process.Start(new ProcessStartInfo("git", ["-C", repositoryRoot, .. arguments]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
            var error = git.StandardError.ReadToEndAsync();
            var text = git.StandardOutput.ReadToEnd().Trim();
            git.WaitForExit();
            _ = error.Result;
            return text;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "";
        }
    }
}
