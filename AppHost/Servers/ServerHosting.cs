namespace LlmAspire.AppHost.Servers;

/// <summary>How Redis and PostgreSQL run when the AppHost runs the platform (<c>LlmAspire:ServerHosting</c>).</summary>
internal enum ServerHosting
{
    /// <summary>Containers when a container runtime with bridge networking answers, otherwise local processes.</summary>
    Auto,

    /// <summary>Aspire's Redis and PostgreSQL containers, with data volumes.</summary>
    Containers,

    /// <summary>The machine's own <c>redis-server</c> and PostgreSQL binaries, with data in <c>LlmAspire:DataDirectory</c>.</summary>
    LocalProcesses,
}
