using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace LlmAspire.TestToolkit;

/// <summary>
/// Keeps every entry a host logs at its configured levels, of every category or of <paramref name="category"/> alone,
/// for tests to look at.
/// </summary>
public sealed class LogCollector(string? category = null) : ILoggerProvider
{
    private readonly ConcurrentQueue<(LogLevel Level, string Category, string Message, Exception? Exception)> entries = new();

    public IReadOnlyList<(LogLevel Level, string Category, string Message, Exception? Exception)> Entries => [.. entries];

    public IReadOnlyList<string> Messages => [.. entries.Select(entry => entry.Message)];

    public bool Contains(string text) => entries.Any(entry => entry.Message.Contains(text, StringComparison.Ordinal));

    /// <summary>Adds the collector to a host's logging.</summary>
    public void AddTo(IServiceCollection services) => services.AddSingleton<ILoggerProvider>(this);

    public ILogger CreateLogger(string categoryName) =>
        category is null || categoryName == category ? new Collector(entries, categoryName) : NullLogger.Instance;

    public void Dispose()
    {
    }

    private sealed class Collector(ConcurrentQueue<(LogLevel, string, string, Exception?)> entries, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            entries.Enqueue((logLevel, category, formatter(state, exception), exception));
    }
}
