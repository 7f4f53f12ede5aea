namespace LlmAspire.Hosting.ApplicationModel;

/// <summary>
/// How to run a container resource from the server binary installed on this machine when Docker or its image is not
/// there: which binary, which Debian package has it, and how to prepare a private data directory and command line.
/// </summary>
public sealed class LocalServerAnnotation(
    string binaryName,
    string debianPackage,
    IReadOnlyList<string> searchDirectories,
    Func<LocalServerContext, CancellationToken, Task<ProcessSpec>> prepare) : IResourceAnnotation
{
    public string BinaryName { get; } = binaryName;

    public string DebianPackage { get; } = debianPackage;

    /// <summary>Looked in before PATH.</summary>
    public IReadOnlyList<string> SearchDirectories { get; } = searchDirectories;

    public Func<LocalServerContext, CancellationToken, Task<ProcessSpec>> Prepare { get; } = prepare;
}

/// <param name="BinaryPath">Where the server binary was found.</param>
/// <param name="DataDirectory">Empty, private to this resource, removed when the application stops.</param>
/// <param name="Port">The loopback port allocated to the resource's endpoint.</param>
public sealed record LocalServerContext(string BinaryPath, string DataDirectory, int Port);

/// <summary>A process to start. <paramref name="StopSignal"/> asks it to stop (PostgreSQL's fast shutdown is SIGINT).</summary>
public sealed record ProcessSpec(
    string FileName,
    IReadOnlyList<string> Arguments,
    IReadOnlyDictionary<string, string>? Environment = null,
    string? WorkingDirectory = null,
    int StopSignal = Signals.Terminate)
{
    /// <summary>Clean-up once the process has stopped (removing its container).</summary>
    public Func<CancellationToken, Task>? AfterStop { get; init; }
}

public static class Signals
{
    public const int Interrupt = 2;
    public const int Kill = 9;
    public const int Terminate = 15;
}
