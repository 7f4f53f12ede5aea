using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Threading.Channels;

namespace LlmAspire.Hosting.Orchestration;

/// <param name="Stream"><c>stdout</c> or <c>stderr</c>.</param>
public sealed record LogLine(DateTimeOffset Time, string Stream, string Line);

/// <summary>The console output of every resource: the last <see cref="BacklogLines"/> lines each, and live lines to watchers.</summary>
public sealed class ResourceLoggerService(TimeProvider timeProvider)
{
    public const int BacklogLines = 5000;

    private readonly ConcurrentDictionary<string, ResourceLog> logs = new();

    public ResourceLoggerService() : this(TimeProvider.System)
    {
    }

    public void Write(string resource, string stream, string line) =>
        logs.GetOrAdd(resource, _ => new ResourceLog()).Write(new LogLine(timeProvider.GetUtcNow(), stream, line));

    public IReadOnlyList<LogLine> GetBacklog(string resource) => logs.GetOrAdd(resource, _ => new ResourceLog()).Backlog();

    /// <summary>The backlog first, then every new line until cancelled.</summary>
    public async IAsyncEnumerable<LogLine> WatchAsync(string resource, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var log = logs.GetOrAdd(resource, _ => new ResourceLog());
        var (backlog, live) = log.Subscribe();
        try
        {
            foreach (var line in backlog)
            {
                yield return line;
            }

            await foreach (var line in live.Reader.ReadAllAsync(cancellationToken))
            {
                yield return line;
            }
        }
        finally
        {
            log.Unsubscribe(live);
        }
    }

    private sealed class ResourceLog
    {
        private readonly Lock gate = new();
        private readonly Queue<LogLine> backlog = new();
        private readonly List<Channel<LogLine>> watchers = [];

        public void Write(LogLine line)
        {
            lock (gate)
            {
                if (backlog.Count == BacklogLines)
                {
                    backlog.Dequeue();
                }

                backlog.Enqueue(line);
                foreach (var watcher in watchers)
                {
                    watcher.Writer.TryWrite(line);
                }
            }
        }

        public IReadOnlyList<LogLine> Backlog()
        {
            lock (gate)
            {
                return [.. backlog];
            }
        }

        /// <summary>The backlog and a channel of what follows it, taken together so that no line is lost or doubled.</summary>
        public (IReadOnlyList<LogLine> Backlog, Channel<LogLine> Live) Subscribe()
        {
            // A slow watcher loses its oldest lines rather than holding up the resource's output.
            var live = Channel.CreateBounded<LogLine>(new BoundedChannelOptions(BacklogLines) { FullMode = BoundedChannelFullMode.DropOldest });
            lock (gate)
            {
                watchers.Add(live);
                return ([.. backlog], live);
            }
        }

        public void Unsubscribe(Channel<LogLine> live)
        {
            lock (gate)
            {
                watchers.Remove(live);
            }
        }
    }
}
