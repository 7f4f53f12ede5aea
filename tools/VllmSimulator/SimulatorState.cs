using Microsoft.Extensions.Options;

namespace LlmAspire.VllmSimulator;

/// <summary>
/// The simulator's live state, a DI singleton: served models with their scheduler counters, and the TCP connections
/// Kestrel accepted (tests use these to check that a proxy reuses connections and releases slots).
/// </summary>
public sealed class SimulatorState
{
    private long _connectionsOpened;
    private long _connectionsActive;

    public SimulatorState(IOptions<SimulatorOptions> options)
    {
        var settings = options.Value;
        Models = [.. ParseModelNames(settings.Model).Select(name => new ServedModel(name, settings.MaxConcurrency))];
    }

    public IReadOnlyList<ServedModel> Models { get; }

    public int Running => Models.Sum(m => m.Running);

    public int Waiting => Models.Sum(m => m.Waiting);

    public long RequestsCompleted => Models.Sum(m => m.RequestsCompleted);

    public long ConnectionsOpened => Interlocked.Read(ref _connectionsOpened);

    public long ConnectionsActive => Interlocked.Read(ref _connectionsActive);

    internal static string[] ParseModelNames(string? names) =>
        (names ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);

    internal void ConnectionOpened()
    {
        Interlocked.Increment(ref _connectionsOpened);
        Interlocked.Increment(ref _connectionsActive);
    }

    internal void ConnectionClosed() => Interlocked.Decrement(ref _connectionsActive);
}
