namespace LlmAspire.ModelManager.Tests.Infrastructure;

/// <summary>
/// ModelManagers hosted in the test that run model servers as local processes, one after another under one name and
/// state directory (so a restarted one adopts what the last left running). Disposing it stops those still running and
/// ends every server they left: no process outlives the test.
/// </summary>
public sealed class ProcessModelManagers : IAsyncDisposable
{
    private readonly List<ModelManagerHost> hosts = [];

    public DirectoryInfo StateDirectory { get; } = Directory.CreateTempSubdirectory("llmaspire-mm-process-");

    /// <summary>The ModelManagers' <c>Name</c>: what they adopt by.</summary>
    public string Name { get; } = $"test-{Guid.NewGuid():N}"[..16];

    /// <summary>A ModelManager with <paramref name="settings"/> (catalog entries and other keys) on top of the test defaults.</summary>
    public async Task<ModelManagerHost> StartAsync(bool stopModelsOnShutdown = true, params IEnumerable<KeyValuePair<string, string>>[] settings)
    {
        var host = await ModelManagerHost.StartAsync(
        [
            TestCatalog.Setting("Name", Name),
            TestCatalog.Setting("Process:StateDirectory", StateDirectory.FullName),
            TestCatalog.Setting("StopModelsOnShutdown", stopModelsOnShutdown ? "true" : "false"),
            .. settings.SelectMany(entry => entry),
        ]);
        hosts.Add(host);
        return host;
    }

    /// <summary>Shuts one down (gracefully, as a restart would).</summary>
    public async Task StopAsync(ModelManagerHost host)
    {
        hosts.Remove(host);
        await host.DisposeAsync();
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var host in hosts)
        {
            await host.DisposeAsync();
        }

        await LeftoverServers.EndAndDeleteAsync(StateDirectory);
    }
}
