using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace LlmAspire.VllmSimulator.Metrics;

/// <summary>
/// Counts TCP connections as Kestrel accepts and closes them, so tests can see whether a client or proxy reuses its
/// keep-alive connections or opens one per request.
/// </summary>
internal static class ConnectionCounting
{
    public static ListenOptions UseConnectionCounting(this ListenOptions listen)
    {
        var state = listen.ApplicationServices.GetRequiredService<SimulatorState>();
        listen.Use(next => async connection =>
        {
            state.ConnectionOpened();
            try
            {
                await next(connection);
            }
            finally
            {
                state.ConnectionClosed();
            }
        });
        return listen;
    }
}
