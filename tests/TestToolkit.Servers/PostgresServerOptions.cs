namespace LlmAspire.TestToolkit.Servers;

/// <summary>How a <see cref="PostgresServer"/> runs. The defaults suit tests; the benchmark measures a stock server.</summary>
public sealed record PostgresServerOptions
{
    /// <summary>
    /// Server settings (<c>-c name=value</c>) beyond listening on 127.0.0.1. By default room for the connection pools
    /// of many hosts at once, and no fsync: nothing a test writes has to survive a crash of the machine.
    /// </summary>
    public IReadOnlyDictionary<string, string> Settings { get; init; } = new Dictionary<string, string>
    {
        ["max_connections"] = "300",
        ["fsync"] = "off",
    };

    /// <summary>Where the server's output goes; by default a file in its own directory, deleted with it.</summary>
    public string? LogFile { get; init; }
}
