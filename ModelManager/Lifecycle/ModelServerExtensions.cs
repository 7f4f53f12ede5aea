using LlmAspire.ModelManager.Runtimes;

namespace LlmAspire.ModelManager.Lifecycle;

internal static class ModelServerExtensions
{
    // A runtime that cannot produce a server's output in this time is not worth waiting for in an error message.
    private static readonly TimeSpan LogTailTimeout = TimeSpan.FromSeconds(10);

    /// <summary><paramref name="message"/> followed by the server's last output, when it has any.</summary>
    public static async Task<string> WithLastOutputAsync(this IModelServer server, string message)
    {
        string tail;
        try
        {
            using var timeout = new CancellationTokenSource(LogTailTimeout);
            tail = await server.LogTailAsync(timeout.Token);
        }
        catch (Exception exception) when (exception is OperationCanceledException or ModelServerException or IOException)
        {
            tail = "";
        }

        return tail.Length > 0 ? $"{message}\nLast output:\n{tail}" : message;
    }
}
