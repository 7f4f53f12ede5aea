using System.Diagnostics;
using System.Globalization;

namespace LlmAspire.Gateway.Tests.Infrastructure;

/// <summary>
/// The gateway as its own process (<c>dotnet Gateway.Api.dll</c>, copied next to the tests by the project reference) on
/// a free loopback port, for what only a real process shows: how it answers signals. Its output goes to a log file.
/// </summary>
public sealed class GatewayProcess : IAsyncDisposable
{
    private readonly Process process;
    private readonly string directory;

    private GatewayProcess(Process process, string directory, Uri baseAddress)
    {
        this.process = process;
        this.directory = directory;
        BaseAddress = baseAddress;
        Client = new HttpClient { BaseAddress = baseAddress, Timeout = Timeout.InfiniteTimeSpan };
    }

    public Uri BaseAddress { get; }

    public HttpClient Client { get; }

    public int ExitCode => process.ExitCode;

    /// <summary>Everything the process wrote to its console so far.</summary>
    public string Output => File.ReadAllText(Path.Combine(directory, "gateway.log"));

    public static async Task<GatewayProcess> StartAsync(IEnumerable<KeyValuePair<string, string>> settings)
    {
        var directory = Directory.CreateTempSubdirectory("llmaspire-gateway-").FullName;
        var port = NativeServer.FreePort();
        var baseAddress = new Uri($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}");
        string[] arguments =
        [
            Path.Combine(AppContext.BaseDirectory, "Gateway.Api.dll"),
            "--urls", baseAddress.ToString(),
            "--contentRoot", directory,
            .. settings.SelectMany(setting => new[] { $"--{setting.Key}", setting.Value }),
        ];
        var process = NativeServer.Start("dotnet", arguments, Path.Combine(directory, "gateway.log"));
        var gateway = new GatewayProcess(process, directory, baseAddress);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!await gateway.AliveAsync())
        {
            if (process.HasExited || DateTime.UtcNow > deadline)
            {
                await gateway.DisposeAsync();
                throw new InvalidOperationException($"The gateway did not start on {baseAddress}: {gateway.Output}");
            }

            await Task.Delay(100);
        }

        return gateway;
    }

    /// <summary>Sends <paramref name="signal"/> to the process by its PID.</summary>
    public void Signal(int signal) => NativeServer.Signal(process.Id, signal);

    /// <summary>Waits for the process to end; fails the test when it has not within <paramref name="guard"/>.</summary>
    public async Task WaitForExitAsync(TimeSpan guard)
    {
        using var deadline = new CancellationTokenSource(guard);
        await process.WaitForExitAsync(deadline.Token);
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        if (!process.HasExited)
        {
            NativeServer.Signal(process.Id, NativeServer.SigKill);
            await process.WaitForExitAsync();
        }

        process.Dispose();
        Directory.Delete(directory, recursive: true);
    }

    private async Task<bool> AliveAsync()
    {
        try
        {
            using var response = await Client.GetAsync("/alive");
            return response.IsSuccessStatusCode;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }
}
