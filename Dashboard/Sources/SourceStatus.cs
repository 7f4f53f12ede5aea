namespace LlmAspire.Dashboard.Sources;

public enum SourceState
{
    NotConfigured,
    Connecting,
    Available,
    Unreachable,
}

/// <summary>Whether a page's source (resource service, ModelManager, gateway) can be read, and if not, why.</summary>
public sealed record SourceStatus(SourceState State, string? Message = null)
{
    public static readonly SourceStatus Connecting = new(SourceState.Connecting);
    public static readonly SourceStatus Available = new(SourceState.Available);

    public static SourceStatus NotConfigured(string message) => new(SourceState.NotConfigured, message);

    public static SourceStatus Unreachable(Exception exception) => new(SourceState.Unreachable, SourceCalls.Describe(exception));
}
