using System.Diagnostics;
using System.Globalization;
using LlmAspire.TestToolkit.Servers;
using LlmAspire.TestToolkit.Servers.Processes;

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
        var port = Loopback.FreePort();
        var baseAddress = new Uri($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}");
        string[] arguments =
        [
            Path.Combine(AppContext.BaseDirectory, "Gateway.Api.dll"),
            "--urls", baseAddress.ToString(),
            "--contentRoot", directory,
            .. settings.SelectMany(setting => new[] { $"--{setting.Key}", setting.Value }),
        ];
        var logFile = Path.Combine(directory, "gateway.log");
        var process = LoggedProcess.Start("dotnet", arguments, logFile);
        var gateway = new GatewayProcess(process, directory, baseAddress);
        try
        {
            await LoggedProcess.WaitUntilReadyAsync(process, logFile, gateway.AliveAsync, $"The gateway on {baseAddress}", TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(100));
        }
        catch
        {
            await gateway.DisposeAsync();
            throw;
        }

        return gateway;
    }

    /// <summary>Sends <paramref name="signal"/> to the process by its PID.</summary>
    public void Signal(int signal) => Signals.Send(process.Id, signal);

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
            Signals.Send(process.Id, Signals.SigKill);
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
