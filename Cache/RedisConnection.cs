using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;
using StackExchange.Redis.Configuration;

namespace LlmAspire.Cache;

/// <summary>
/// The gateway's one Redis connection (<c>ConnectionStrings:cache</c>), shared by the response cache and the rate
/// limiter: the <see cref="IConnectionMultiplexer"/> that Aspire's Redis client integration registers. Redis is an
/// accelerator, never a dependency: every call goes through <see cref="TryAsync{T}"/>, which answers "unavailable" at
/// once while Redis is down (commands are not queued behind a dead connection), logs a warning when Redis goes away
/// and a note when it returns, and counts what was skipped. The multiplexer reconnects by itself, so caching and
/// shared limits resume without anyone intervening.
/// </summary>
public sealed partial class RedisConnection
{
    public const string ConnectionStringName = "cache";

    /// <summary>The name of Aspire's Redis health check, kept for the one registered in its place.</summary>
    public const string HealthCheckName = "StackExchange.Redis";

    private readonly IConnectionMultiplexer? multiplexer;
    private readonly CacheMetrics metrics;
    private readonly ILogger<RedisConnection> logger;
    private int down;

    /// <param name="multiplexer">Registered only when Redis is configured; connecting waits at most the connect timeout.</param>
    public RedisConnection(CacheMetrics metrics, ILogger<RedisConnection> logger, IConnectionMultiplexer? multiplexer = null)
    {
        this.multiplexer = multiplexer;
        this.metrics = metrics;
        this.logger = logger;
        metrics.ObserveRedis(() => IsAvailable);
        if (multiplexer is null)
        {
            return;
        }

        multiplexer.ConnectionFailed += (_, args) => MarkDown(args.Exception);
        multiplexer.ConnectionRestored += (_, _) => MarkUp();
        if (!multiplexer.IsConnected)
        {
            MarkDown(null);
        }
    }

    /// <summary>False when no Redis is configured: the features that need it are off, and nothing is reported as failing.</summary>
    public bool IsConfigured => multiplexer is not null;

    public bool IsAvailable => multiplexer is { IsConnected: true } && Volatile.Read(ref down) == 0;

    /// <summary>
    /// Registers the connection; with <c>ConnectionStrings:cache</c> also Aspire's Redis client (settings under
    /// <c>Aspire:StackExchange:Redis</c>) with fail-fast defaults, and a health check that reports a Redis outage as
    /// Degraded: the gateway serves on without Redis. Without the connection string nothing talks to Redis.
    /// </summary>
    internal static void Register(IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<RedisConnection>();
        if (string.IsNullOrWhiteSpace(builder.Configuration.GetConnectionString(ConnectionStringName)))
        {
            return;
        }

        var healthCheck = true;
        builder.AddRedisClient(
            ConnectionStringName,
            settings =>
            {
                healthCheck = !settings.DisableHealthChecks;
                settings.DisableHealthChecks = true;
                // Profiling every command for spans nobody receives would slow every cache hit.
                settings.DisableTracing |= !builder.ExportsTelemetry();
            },
            options =>
            {
                // Defaults only: a value in the connection string or in Aspire:StackExchange:Redis:ConfigurationOptions wins.
                options.Defaults = new FailFastDefaults();
                // Replies are read on the thread pool instead of the library's dedicated socket threads: one thread
                // handoff less per command, which took a cache hit from about 120 to 85 µs p50 on two cores
                // (eng/bench.sh). The gateway never blocks pool threads, so the starvation the dedicated threads guard
                // against does not arise.
                options.SocketManager = SocketManager.ThreadPool;
            });
        if (healthCheck)
        {
            builder.Services.AddHealthChecks().AddRedis(
                services => services.GetRequiredService<IConnectionMultiplexer>(), HealthCheckName, HealthStatus.Degraded, timeout: TimeSpan.FromSeconds(5));
        }
    }

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

    /// <summary>
    /// Start even when Redis is not there yet and keep trying in the background; while disconnected, fail commands at
    /// once instead of holding requests until a timeout; a hung Redis costs a request one second at most (a healthy
    /// one answers in well under a millisecond).
    /// </summary>
    private sealed class FailFastDefaults : DefaultOptionsProvider
    {
        public override bool AbortOnConnectFail => false;

        public override BacklogPolicy BacklogPolicy => BacklogPolicy.FailFast;

        public override TimeSpan? ConnectTimeout => TimeSpan.FromSeconds(2);

        // The async timeout follows the sync one unless it is set itself.
        public override TimeSpan SyncTimeout => TimeSpan.FromSeconds(1);

        public override IReconnectRetryPolicy ReconnectRetryPolicy => new LinearRetry(1_000);
    }
}
