using System.Globalization;
using LlmAspire.Gateway.Api.Configuration;
using LlmAspire.Gateway.Api.OpenAi;
using Microsoft.Extensions.Options;

namespace LlmAspire.Gateway.Api.Shutdown;

/// <summary>
/// The gateway's graceful shutdown. From the stopping signal (SIGTERM, Ctrl+C) the web server takes no new requests
/// and those under way get <see cref="GatewayOptions.ShutdownGracePeriod"/> to finish. When it is over,
/// <see cref="GraceOver"/> fires: a stream still running ends with an error event (<c>503 shutting_down</c>) and
/// <c>data: [DONE]</c>, a request still waiting for its answer, a slot or its model gets that error as its answer.
/// The host's own shutdown timeout is longer by <see cref="LedgerMargin"/>, so that the usage ledger still writes,
/// or spools, the rows of those requests before the process exits.
/// </summary>
internal sealed class GatewayShutdown : IDisposable
{
    /// <summary>Time after the grace period for requests to end and the ledger to write or spool their rows.</summary>
    public static readonly TimeSpan LedgerMargin = TimeSpan.FromSeconds(15);

    /// <summary>When a client told <see cref="Error"/> may try again (another replica, or this one restarted).</summary>
    public static readonly TimeSpan RetryAfter = TimeSpan.FromSeconds(5);

    private readonly CancellationTokenSource graceOver;
    private readonly CancellationTokenRegistration stopping;

    public GatewayShutdown(IHostApplicationLifetime lifetime, IOptions<GatewayOptions> options, TimeProvider timeProvider)
    {
        graceOver = new CancellationTokenSource(Timeout.InfiniteTimeSpan, timeProvider);
        var grace = options.Value.ShutdownGracePeriod;
        stopping = lifetime.ApplicationStopping.Register(() => graceOver.CancelAfter(grace));
    }

    /// <summary>
    /// The host's shutdown timeout: the grace period plus <see cref="LedgerMargin"/>. Read from configuration as it is,
    /// since the host takes it when it is built; a malformed value is reported by the validation of the options
    /// when the host starts, and until then the default stands in for it.
    /// </summary>
    public static TimeSpan HostTimeout(IConfiguration configuration) =>
        (TimeSpan.TryParse(configuration[$"{GatewayOptions.SectionName}:{nameof(GatewayOptions.ShutdownGracePeriod)}"], CultureInfo.InvariantCulture, out var grace)
            ? grace
            : new GatewayOptions().ShutdownGracePeriod) + LedgerMargin;

    /// <summary>Fires when the grace period after the stopping signal is over.</summary>
    public CancellationToken GraceOver => graceOver.Token;

    /// <summary>What a request the grace period could not wait for is told.</summary>
    public static OpenAiError Error(string model) => new(StatusCodes.Status503ServiceUnavailable,
        $"The gateway is shutting down and its grace period ended before the request to '{model}' did; send it again.", "server_error", null, "shutting_down");

    public void Dispose()
    {
        stopping.Dispose();
        graceOver.Dispose();
    }
}
