using System.Diagnostics;

namespace LlmAspire.TestToolkit.Servers.Processes;

public static class ProcessExit
{
    /// <summary>Waits for the process to exit; kills it (and its children) when it has not within <paramref name="timeout"/>.</summary>
    public static async Task WaitForExitOrKillAsync(this Process process, TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
        }
    }
}
