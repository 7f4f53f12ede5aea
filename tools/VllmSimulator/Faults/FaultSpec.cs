using System.Globalization;

namespace LlmAspire.VllmSimulator.Faults;

internal enum FaultKind
{
    None,

    /// <summary>Answer at once with <see cref="FaultSpec.Value"/> as the HTTP status.</summary>
    Error,

    /// <summary>After <see cref="FaultSpec.Value"/> tokens, vLLM's in-stream error event (a 500 when not streaming).</summary>
    StreamErrorAfter,

    /// <summary>After <see cref="FaultSpec.Value"/> tokens, abort the connection without a terminator.</summary>
    CrashAfter,

    /// <summary>Hold a running slot and send nothing until the client goes away.</summary>
    Hang,

    /// <summary>Send <see cref="FaultSpec.Value"/> tokens, then hang.</summary>
    HangAfter,
}

/// <summary>A fault to inject, parsed from <c>--fault</c> or the <c>x-sim-fault</c> header.</summary>
internal readonly record struct FaultSpec(FaultKind Kind, int Value)
{
    public const string Syntax = "none, error=<status 400-599>, stream-error-after=<n>, crash-after=<n>, hang or hang-after=<n>";

    /// <summary>Faults that fire once <see cref="Value"/> tokens have been produced (a plain hang after none).</summary>
    public bool FiresAfterTokens => Kind is not (FaultKind.None or FaultKind.Error);

    public bool Hangs => Kind is FaultKind.Hang or FaultKind.HangAfter;

    public static bool TryParse(string? text, out FaultSpec fault)
    {
        fault = default;
        var spec = text.AsSpan().Trim();
        if (spec.IsEmpty || spec.Equals("none", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        if (spec.Equals("hang", StringComparison.OrdinalIgnoreCase))
        {
            fault = new FaultSpec(FaultKind.Hang, 0);
            return true;
        }

        var equals = spec.IndexOf('=');
        if (equals < 0 || !int.TryParse(spec[(equals + 1)..].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var value))
        {
            return false;
        }

        var name = spec[..equals].Trim();
        FaultKind? kind = name switch
        {
            _ when name.Equals("error", StringComparison.OrdinalIgnoreCase) && value is >= 400 and <= 599 => FaultKind.Error,
            _ when name.Equals("stream-error-after", StringComparison.OrdinalIgnoreCase) => FaultKind.StreamErrorAfter,
            _ when name.Equals("crash-after", StringComparison.OrdinalIgnoreCase) => FaultKind.CrashAfter,
            _ when name.Equals("hang-after", StringComparison.OrdinalIgnoreCase) => FaultKind.HangAfter,
            _ => null,
        };
        if (kind is null)
        {
            return false;
        }

        fault = new FaultSpec(kind.Value, value);
        return true;
    }
}
