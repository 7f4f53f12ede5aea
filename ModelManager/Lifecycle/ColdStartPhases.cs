using System.Globalization;

namespace LlmAspire.ModelManager.Lifecycle;

/// <summary>
/// A cold start, phase by phase: <see cref="Wait"/> from the start request to the runtime's start call (a previous
/// stop, evictions to make room, looking for a running server), <see cref="Launch"/> the runtime call itself (image
/// check, container create and start, process spawn), <see cref="Load"/> from there until the server's readiness
/// checks pass (weights loaded). What the platform adds after that is the gateway's to measure.
/// </summary>
internal sealed record ColdStartPhases(TimeSpan Wait, TimeSpan Launch, TimeSpan Load)
{
    public TimeSpan Total => Wait + Launch + Load;

    public override string ToString() => string.Create(
        CultureInfo.InvariantCulture,
        $"wait {Wait.TotalMilliseconds:F0} ms, launch {Launch.TotalMilliseconds:F0} ms, load {Load.TotalMilliseconds:F0} ms");
}
