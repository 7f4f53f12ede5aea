namespace LlmAspire.ModelManager.Tests.Infrastructure;

/// <summary>A logger provider that keeps every message of one category (at the host's configured level), for tests to look for.</summary>
public sealed class CollectedLogs(string category) : ILoggerProvider
{
    private readonly List<string> messages = [];

    public IReadOnlyList<string> Messages
    {
        get
        {
            lock (messages)
            {
                return [.. messages];
            }
        }
    }

    public bool Contains(string text) => Messages.Any(message => message.Contains(text, StringComparison.Ordinal));

    public ILogger CreateLogger(string categoryName) => categoryName == category ? new Collector(messages) : Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;

    public void Dispose()
    {
    }

    private sealed class Collector(List<string> messages) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (messages)
            {
                messages.Add(formatter(state, exception));
            }
        }
    }
}
