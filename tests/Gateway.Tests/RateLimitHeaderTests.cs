using LlmAspire.Gateway.Api.RateLimiting;

namespace LlmAspire.Gateway.Tests;

public sealed class RateLimitHeaderTests
{
    [Theory]
    [InlineData(0.02, "20ms")]
    [InlineData(0.0001, "1ms")]
    [InlineData(1, "1s")]
    [InlineData(59.8, "59.8s")]
    [InlineData(360, "6m0s")]
    [InlineData(3725, "62m5s")]
    public void Reset_times_are_written_in_openai_style(double seconds, string expected) =>
        Assert.Equal(expected, RateLimitDecision.Duration(TimeSpan.FromSeconds(seconds)));

    [Fact]
    public void Only_the_limits_that_apply_get_headers_and_remaining_never_goes_negative()
    {
        var headers = new HeaderDictionary();
        new RateLimitDecision(RateLimitVerdict.RequestsExceeded, new KeyLimits(10, 0, 0), 12, TimeSpan.FromSeconds(30), 0, TimeSpan.Zero, 0, TimeSpan.Zero)
            .WriteHeaders(headers);

        Assert.Equal("10", headers["x-ratelimit-limit-requests"]);
        Assert.Equal("0", headers["x-ratelimit-remaining-requests"]);
        Assert.Equal("30s", headers["x-ratelimit-reset-requests"]);
        Assert.False(headers.ContainsKey("x-ratelimit-limit-tokens"));
    }
}
