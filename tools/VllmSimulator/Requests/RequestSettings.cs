using System.Globalization;
using LlmAspire.VllmSimulator.Faults;
using Microsoft.Extensions.Primitives;

namespace LlmAspire.VllmSimulator.Requests;

/// <summary>Timing, length and fault of one request: the configured defaults, overridden by x-sim-* headers.</summary>
internal readonly record struct RequestSettings(TimeSpan TimeToFirstToken, double TokensPerSecond, int OutputTokens, FaultSpec Fault)
{
    public const string TtftHeader = "x-sim-ttft-ms";
    public const string TokensPerSecondHeader = "x-sim-tokens-per-second";
    public const string OutputTokensHeader = "x-sim-output-tokens";
    public const string FaultHeader = "x-sim-fault";

    /// <summary>Slowest non-zero decode speed: keeps every due time within what a timer can wait for.</summary>
    public const double MinTokensPerSecond = 0.01;

    public bool HasDelays => TimeToFirstToken > TimeSpan.Zero || TokensPerSecond > 0;

    /// <summary>When token <paramref name="index"/> (0-based) is due, measured from the start of generation.</summary>
    public TimeSpan DueTime(int index) => TokensPerSecond > 0
        ? TimeToFirstToken + TimeSpan.FromSeconds(index / TokensPerSecond)
        : TimeToFirstToken;

    /// <summary>Options are validated at start-up, so the configured fault always parses here.</summary>
    public static RequestSettings FromOptions(SimulatorOptions options)
    {
        _ = FaultSpec.TryParse(options.Fault, out var fault);
        return new RequestSettings(TimeSpan.FromMilliseconds(options.TtftMs), options.TokensPerSecond, options.OutputTokens, fault);
    }

    /// <summary>Applies the request's x-sim-* headers; returns an error message naming the bad header, or null.</summary>
    public string? WithHeaders(IHeaderDictionary headers, out RequestSettings settings)
    {
        settings = this;
        if (headers.TryGetValue(TtftHeader, out var ttft))
        {
            if (!int.TryParse(ttft, NumberStyles.None, CultureInfo.InvariantCulture, out var ms) || ms > 3_600_000)
            {
                return Invalid(TtftHeader, ttft, "an integer from 0 to 3600000");
            }

            settings = settings with { TimeToFirstToken = TimeSpan.FromMilliseconds(ms) };
        }

        if (headers.TryGetValue(TokensPerSecondHeader, out var tps))
        {
            if (!double.TryParse(tps, NumberStyles.Float, CultureInfo.InvariantCulture, out var rate) || !IsValidRate(rate))
            {
                return Invalid(TokensPerSecondHeader, tps, RateExpectation);
            }

            settings = settings with { TokensPerSecond = rate };
        }

        if (headers.TryGetValue(OutputTokensHeader, out var output))
        {
            if (!int.TryParse(output, NumberStyles.None, CultureInfo.InvariantCulture, out var count) || count is < 1 or > 1_000_000)
            {
                return Invalid(OutputTokensHeader, output, "an integer from 1 to 1000000");
            }

            settings = settings with { OutputTokens = count };
        }

        if (headers.TryGetValue(FaultHeader, out var faultText))
        {
            if (!FaultSpec.TryParse(faultText, out var fault))
            {
                return Invalid(FaultHeader, faultText, FaultSpec.Syntax);
            }

            settings = settings with { Fault = fault };
        }

        return null;
    }

    public const string RateExpectation = "0 (no delay) or a number from 0.01 to 1000000";

    public static bool IsValidRate(double tokensPerSecond) => tokensPerSecond == 0 || tokensPerSecond is >= MinTokensPerSecond and <= 1_000_000;

    private static string Invalid(string header, StringValues value, string expected) =>
        $"Header {header}: '{value}' is not valid; expected {expected}.";
}
