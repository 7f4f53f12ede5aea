using System.Globalization;
using System.Text;
using Docker.DotNet;
using Docker.DotNet.Models;

namespace LlmAspire.ModelManager.Runtimes.Docker;

/// <summary>
/// One model server container. It is watched until it exits; then its last log lines are kept (for the error that
/// explains a crash or a failed start) and the container is removed, so exited containers never pile up.
/// </summary>
internal sealed class DockerModelServer : IModelServer
{
    private const int TailLines = 60;
    private readonly DockerRuntime runtime;
    private readonly string id;
    private readonly CancellationTokenSource watching = new();
    private string? keptTail;

    public DockerModelServer(DockerRuntime runtime, string id, Uri endpoint)
    {
        this.runtime = runtime;
        this.id = id;
        Endpoint = endpoint;
        Exited = WatchAsync();
    }

    public string Instance => DockerRuntime.ShortId(id);

    public Uri Endpoint { get; }

    public Task Exited { get; }

    public string? ExitDescription { get; private set; }

    public async Task<string> LogTailAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref keptTail) is { } kept)
        {
            return kept;
        }

        try
        {
            return await ReadTailAsync(cancellationToken);
        }
        catch (ModelServerException exception)
        {
            return $"(container logs unavailable: {exception.Message})";
        }
    }

    public async Task StopAsync(TimeSpan grace, CancellationToken cancellationToken)
    {
        // Docker sends the image's stop signal (SIGTERM by default) and SIGKILL after the grace period.
        var seconds = (uint)Math.Ceiling(grace.TotalSeconds);
        try
        {
            await runtime.CallAsync(
                token => runtime.Engine.Containers.StopContainerAsync(id, new ContainerStopParameters { WaitBeforeKillSeconds = seconds }, token),
                "stop the container",
                cancellationToken,
                grace + TimeSpan.FromSeconds(30));
        }
        catch (ModelServerException exception) when (exception.InnerException is DockerContainerNotFoundException)
        {
        }

        try
        {
            await Exited.WaitAsync(TimeSpan.FromSeconds(30), cancellationToken);
        }
        catch (TimeoutException)
        {
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // watching was cancelled by a dispose
        }

        await runtime.RemoveAsync(id, cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        await watching.CancelAsync();
        try
        {
            await Exited;
        }
        catch (OperationCanceledException)
        {
        }

        watching.Dispose();
    }

    private async Task WatchAsync()
    {
        await Task.Yield();
        while (true)
        {
            watching.Token.ThrowIfCancellationRequested();
            try
            {
                var exit = await runtime.Engine.Containers.WaitContainerAsync(id, watching.Token);
                ExitDescription = exit.StatusCode > 128
                    ? $"exit code {exit.StatusCode.ToString(CultureInfo.InvariantCulture)} (signal {(exit.StatusCode - 128).ToString(CultureInfo.InvariantCulture)})"
                    : $"exit code {exit.StatusCode.ToString(CultureInfo.InvariantCulture)}";
                break;
            }
            catch (DockerContainerNotFoundException)
            {
                ExitDescription = "the container was removed";
                break;
            }
            catch (Exception exception) when (!watching.IsCancellationRequested && exception is DockerApiException or HttpRequestException or IOException)
            {
                // The engine connection broke (engine restart?): look again in a moment rather than call it an exit.
                await Task.Delay(TimeSpan.FromSeconds(1), watching.Token);
            }
        }

        try
        {
            Volatile.Write(ref keptTail, await ReadTailAsync(CancellationToken.None));
        }
        catch (ModelServerException exception)
        {
            Volatile.Write(ref keptTail, $"(container logs unavailable: {exception.Message})");
        }

        try
        {
            await runtime.RemoveAsync(id, CancellationToken.None);
        }
        catch (ModelServerException)
        {
            // The engine is gone; the next FindRunningAsync removes the exited container.
        }
    }

    private async Task<string> ReadTailAsync(CancellationToken cancellationToken)
    {
        return await runtime.CallAsync(
            async token =>
            {
                using var logs = await runtime.Engine.Containers.GetContainerLogsAsync(
                    id, new ContainerLogsParameters { ShowStdout = true, ShowStderr = true, Tail = TailLines.ToString(CultureInfo.InvariantCulture) }, token);
                var text = new StringBuilder();
                var buffer = new byte[16 * 1024];
                while (true)
                {
                    var read = await logs.ReadOutputAsync(buffer, 0, buffer.Length, token);
                    if (read.EOF)
                    {
                        break;
                    }

                    text.Append(Encoding.UTF8.GetString(buffer, 0, read.Count));
                }

                return text.ToString().TrimEnd('\n', '\r');
            },
            "read the container's logs",
            cancellationToken);
    }
}
