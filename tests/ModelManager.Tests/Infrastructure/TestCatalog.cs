namespace LlmAspire.ModelManager.Tests.Infrastructure;

/// <summary>Catalog entries as configuration keys.</summary>
public static class TestCatalog
{
    /// <summary>A process-runtime entry running the simulator (copied next to the tests by the project reference) with <c>dotnet</c>.</summary>
    public static IEnumerable<KeyValuePair<string, string>> SimulatorProcess(
        string id, string idleTimeout = "00:10:00", string startupTimeout = "00:01:00", params string[] simulatorArgs) =>
        Entry(id, new Dictionary<string, string>
        {
            ["Runtime"] = "Process",
            ["Command"] = "dotnet",
            ["IdleTimeout"] = idleTimeout,
            ["StartupTimeout"] = startupTimeout,
            ["StopTimeout"] = "00:00:05",
            ["WorkingDirectory"] = AppContext.BaseDirectory,
        }, ["VllmSimulator.dll", "--urls", "http://127.0.0.1:{port}", "--model", "{model}", .. simulatorArgs]);

    public static IEnumerable<KeyValuePair<string, string>> Entry(string id, Dictionary<string, string> values, IEnumerable<string> args)
    {
        foreach (var (key, value) in values)
        {
            yield return new($"ModelManager:Models:{id}:{key}", value);
        }

        var index = 0;
        foreach (var argument in args)
        {
            yield return new($"ModelManager:Models:{id}:Args:{index++}", argument);
        }
    }

    public static KeyValuePair<string, string> Setting(string key, string value) => new($"ModelManager:{key}", value);
}
