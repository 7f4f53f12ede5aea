using LlmAspire.Bench.Infrastructure;

namespace LlmAspire.Bench.Scenarios;

/// <summary>One benchmark scenario: starts what it measures, measures it, stops it, and reports in markdown.</summary>
internal interface IScenario
{
    /// <summary>Heading of the scenario's section in docs/benchmarks.md.</summary>
    string Title { get; }

    Task<ScenarioResult> RunAsync(BenchContext context);
}

/// <summary>What every scenario gets: the server launcher, the run length, and the token that stops the benchmark.</summary>
internal sealed record BenchContext(Servers Servers, BenchSettings Settings, CancellationToken Stopping);

/// <summary>A scenario's markdown section (tables and ratios), the bars it checks, and how many requests failed.</summary>
internal sealed record ScenarioResult(string Markdown, IReadOnlyList<Bar> Bars, int FailedRequests);

/// <summary>A target the issue sets, the value measured against it in this run, and whether it is met.</summary>
internal sealed record Bar(string Target, string Measured, bool Met);
