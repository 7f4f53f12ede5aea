using LlmAspire.Storage;

namespace LlmAspire.Gateway.Tests;

/// <summary>What PostgreSQL cannot store (NUL, unpaired surrogates) is replaced, and lengths are cut between characters.</summary>
public sealed class PostgresTextTests
{
    // Unpaired surrogates cannot travel in attribute arguments (stored as UTF-8), hence member data.
    public static TheoryData<string, string> Texts => new()
    {
        { "plain", "plain" },
        { "emoji \U0001F600 kept", "emoji \U0001F600 kept" },
        { "x\0", "x\uFFFD" },
        { "cut \uD83D", "cut \uFFFD" },
        { "\uDE00 low first", "\uFFFD low first" },
        { "a\0\uDC00b\uD83D\uDE00", "a\uFFFD\uFFFDb\U0001F600" },
    };

    [Theory]
    [MemberData(nameof(Texts))]
    public void Text_is_made_storable(string value, string expected)
    {
        Assert.Equal(expected, PostgresText.Storable(value));
        Assert.True(PostgresText.IsStorable(PostgresText.Storable(value)));
        Assert.Equal(value == expected, PostgresText.IsStorable(value));
    }

    [Fact]
    public void Text_is_cut_to_the_limit_without_splitting_a_surrogate_pair()
    {
        Assert.Equal("ab", PostgresText.Storable("abc", 2));
        Assert.Equal("a", PostgresText.Storable("a\U0001F600", 2));
        Assert.Same("abc", PostgresText.Storable("abc", 3));
        Assert.Null(PostgresText.Storable(null));
    }
}
