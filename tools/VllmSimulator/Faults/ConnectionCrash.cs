using Microsoft.AspNetCore.Connections.Features;

namespace LlmAspire.VllmSimulator.Faults;

/// <summary>Ends a connection the way a crashed model server does: what was sent arrives, then the socket closes.</summary>
internal static class ConnectionCrash
{
    /// <summary>How long to wait for Kestrel to notice the closed transport before aborting outright.</summary>
    private static readonly TimeSpan CloseGrace = TimeSpan.FromSeconds(5);

    public static async Task CrashAsync(HttpContext context, TimeProvider time)
    {
        // HttpContext.Abort() alone drops response bytes Kestrel has not yet handed to the socket, so a client could
        // lose tokens that were "sent" before the crash. Completing the transport's output instead makes Kestrel send
        // everything already flushed and then close the socket, with no HTTP terminator after it.
        if (context.Features.Get<IConnectionTransportFeature>()?.Transport is { } transport)
        {
            await transport.Output.CompleteAsync();
            try
            {
                // The request must not end before Kestrel sees the closed connection, or it would write a terminator.
                await Task.Delay(CloseGrace, time, context.RequestAborted);
            }
            catch (OperationCanceledException)
            {
            }
        }

        context.Abort();
    }
}
