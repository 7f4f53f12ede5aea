using System.Runtime.InteropServices;
using LlmAspire.Bench;
using LlmAspire.Bench.Infrastructure;
using LlmAspire.Bench.Scenarios;

// Usage: Bench [--quick] [--out <file.md>] [--repo <repository root>] [--scenario <name>] [--variant name:KEY=VALUE,...]...
// Starts every server it measures on 127.0.0.1 and stops them at the end, on Ctrl+C and on SIGTERM.
var settings = (args.Contains("--quick") ? BenchSettings.Quick : BenchSettings.Full) with
{
    Variants = [.. args.Select((arg, i) => (arg, i)).Where(x => x.arg == "--variant" && x.i + 1 < args.Length).Select(x => GatewayVariant.Parse(args[x.i + 1]))],
};
var output = Option("--out");
var root = Path.GetFullPath(Option("--repo") ?? Directory.GetCurrentDirectory());
IScenario[] scenarios = [new ProxyOverhead(), new SparseRequests(), new FreshProcess(), new IdleStreams(), new ResponseCacheHits(), new LedgerOverhead(), new ColdStart()];
if (Option("--scenario") is { } only)
{
    // One scenario by class name, for working on it; its section alone is written.
    scenarios = [.. scenarios.Where(scenario => scenario.GetType().Name.Equals(only, StringComparison.OrdinalIgnoreCase))];
}

using var stopping = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    // The first Ctrl+C ends the run cleanly (servers stopped on the way out); a second one stops them at once.
    e.Cancel = !stopping.IsCancellationRequested;
    Console.Error.WriteLine("stopping");
    stopping.Cancel();
    if (!e.Cancel)
    {
        ServerProcess.StopAll();
    }
};
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, signal =>
{
    signal.Cancel = true;
    stopping.Cancel();
});
AppDomain.CurrentDomain.ProcessExit += (_, _) => ServerProcess.StopAll();

var work = Directory.CreateTempSubdirectory("llmaspire-bench-").FullName;
Console.WriteLine($"{settings.Name} run; server logs and nginx configuration in {work}");
var context = new BenchContext(new Servers(root, work, stopping.Token), settings, stopping.Token);
var report = new BenchReport(settings, root);
try
{
    var busyBefore = await MachineLoad.BusyPercentAsync(TimeSpan.FromSeconds(1), stopping.Token);
    foreach (var scenario in scenarios)
    {
        Console.WriteLine($"== {scenario.Title}");
        report.Add(scenario.Title, await scenario.RunAsync(context));
    }

    report.CpuBusyWithoutServers = (busyBefore, await MachineLoad.BusyPercentAsync(TimeSpan.FromSeconds(1), stopping.Token));
}
catch (OperationCanceledException) when (stopping.IsCancellationRequested)
{
    Console.Error.WriteLine("stopped before the end; nothing written");
    return 130;
}

var markdown = report.ToMarkdown();
Console.WriteLine();
Console.WriteLine(markdown);
if (output is not null)
{
    Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
    await File.WriteAllTextAsync(output, markdown);
    Console.WriteLine($"written to {output}");
}

// Bars not met are results, not failures; failed requests make the numbers suspect.
return report.FailedRequests == 0 ? 0 : 1;

string? Option(string name)
{
    var index = Array.IndexOf(args, name);
    return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
}
