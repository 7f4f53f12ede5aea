using System.Text;

namespace LlmAspire.VllmSimulator.Generation;

/// <summary>
/// The fixed vocabulary of simulated tokens: one word per token, pre-encoded once as UTF-8 with a leading space so
/// the hot path copies bytes and never encodes or allocates. Plain ASCII letters, so no word needs JSON escaping.
/// </summary>
internal static class Vocabulary
{
    private const string Text =
        "the of and to in is that it for on with as was at by this be from are or an have not they which one had were "
        + "but all their there can more when what so out about up time them some would make like into than other then "
        + "two these could first its now over only new very after also any most where well back our just through way "
        + "even model token light river stone cloud signal garden window paper music market bridge forest engine silver "
        + "harbor quiet rapid gentle bright simple narrow golden hollow steady";

    public static readonly byte[][] Words = [.. Text.Split(' ').Select(word => Encoding.ASCII.GetBytes(" " + word))];

    /// <summary>Bytes of the longest word, its leading space included: sizes output buffers.</summary>
    public static readonly int LongestWord = Words.Max(word => word.Length);
}
