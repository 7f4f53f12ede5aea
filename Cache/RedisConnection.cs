using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace LlmAspire.Cache;

/// <summary>
/// The gateway's one Redis connection (<c>ConnectionStrings:cache</c>), shared by the response cache and the rate
/// limiter. Redis is an accelerator, never a dependency: every call goes through <see cref="TryAsync{T}"/>, which
/// answers "unavailable" at once while Redis is down (commands are not queued behind a dead connection), logs a
/// warning when Redis goes away and a note when it returns, and counts what was skipped. The multiplexer reconnects
/// by itself, so caching and shared limits resume without anyone intervening.
/// </summary>
public sealed partial class RedisConnection : IHostedService, IAsyncDisposable
{
    public const string ConnectionStringName = "cache";

    private readonly string? connectionString;
    private readonly CacheMetrics metrics;
    private readonly ILogger<RedisConnection> logger;
    private ConnectionMultiplexer? multiplexer;
    private int down;

    public RedisConnection(IConfiguration configuration, CacheMetrics metrics, ILogger<RedisConnection> logger)
    {
        connectionString = configuration.GetConnectionString(ConnectionStringName);
        this.metrics = metrics;
        this.logger = logger;
        metrics.ObserveRedis(() => IsAvailable);
    }

    /// <summary>False when no Redis is configured: the features that need it are off, and nothing is reported as failing.</summary>
    public bool IsConfigured => !string.IsNullOrWhiteSpace(connectionString);

    public bool IsAvailable => multiplexer is { IsConnected: true } && Volatile.Read(ref down) == 0;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (!IsConfigured)
        {
            return;
        }

        var options = ConfigurationOptions.Parse(connectionString!);
        // Start even when Redis is not there yet, and keep trying in the background.
        options.AbortOnConnectFail = false;
        // While disconnected, fail commands immediately instead of holding requests until a timeout.
        options.BacklogPolicy = BacklogPolicy.FailFast;
        options.ReconnectRetryPolicy = new LinearRetry(1_000);
        // Replies are read on the thread pool instead of the library's dedicated socket threads: one thread handoff
        // less per command, which took a cache hit from about 120 to 85 µs p50 on two cores (eng/bench.sh). The
        // gateway never blocks pool threads, so the starvation the dedicated threads guard against does not arise.
        options.SocketManager = SocketManager.ThreadPool;
        if (!connectionString!.Contains("connectTimeout", StringComparison.OrdinalIgnoreCase))
        {
            options.ConnectTimeout = 2_000;
        }

        if (!connectionString.Contains("asyncTimeout", StringComparison.OrdinalIgnoreCase))
        {
            // A hung Redis should cost a request one second at most; a healthy one answers in well under a millisecond.
            options.AsyncTimeout = 1_000;
        }

        multiplexer = await ConnectionMultiplexer.ConnectAsync(options);
        multiplexer.ConnectionFailed += (_, args) => MarkDown(args.Exception);
        multiplexer.ConnectionRestored += (_, _) => MarkUp();
        if (!multiplexer.IsConnected)
        {
            MarkDown(null);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// Runs <paramref name="call"/> against Redis, or reports that it could not: <c>Ok</c> is false when Redis is not
    /// configured, unreachable, or failed to answer in time.
    /// </summary>
    public async ValueTask<(bool Ok, T Value)> TryAsync<T>(string operation, Func<IDatabase, Task<T>> call)
    {
        if (multiplexer is not { } connection)
        {
            return (false, default!);
        }

        if (!connection.IsConnected)
        {
            MarkDown(null);
            metrics.RedisUnavailable(operation);
            return (false, default!);
        }

        try
        {
            var value = await call(connection.GetDatabase());
            MarkUp();
            return (true, value);
        }
        catch (Exception exception) when (exception is RedisConnectionException or RedisTimeoutException
            || (exception is RedisServerException && exception.Message.StartsWith("LOADING", StringComparison.Ordinal)))
        {
            MarkDown(exception);
            metrics.RedisUnavailable(operation);
            return (false, default!);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (multiplexer is not null)
        {
            await multiplexer.DisposeAsync();
        }
    }

    private void MarkDown(Exception? exception)
    {
        if (Interlocked.Exchange(ref down, 1) == 0)
        {
            LogUnavailable(logger, exception?.Message ?? "not connected", exception);
        }
    }

    private void MarkUp()
    {
        if (Interlocked.Exchange(ref down, 0) == 1)
        {
            LogRestored(logger);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Redis is unreachable ({Reason}); serving uncached with per-replica rate limits until it returns")]
    private static partial void LogUnavailable(ILogger logger, string reason, Exception? exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Redis is reachable again; caching and shared rate limits resume")]
    private static partial void LogRestored(ILogger logger);
}
