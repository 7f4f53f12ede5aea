using System.Buffers.Text;

namespace LlmAspire.VllmSimulator.Protocol;

/// <summary>Appends pre-encoded UTF-8 pieces and integers to a span that the caller sized.</summary>
internal ref struct ByteAppender(Span<byte> destination)
{
    private readonly Span<byte> _destination = destination;

    public int Length { get; private set; }

    public void Append(scoped ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(_destination[Length..]);
        Length += bytes.Length;
    }

    public void Append(long value)
    {
        Utf8Formatter.TryFormat(value, _destination[Length..], out var written);
        Length += written;
    }
}
