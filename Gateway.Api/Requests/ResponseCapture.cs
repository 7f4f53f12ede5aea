using System.Buffers;

namespace LlmAspire.Gateway.Api.Requests;

/// <summary>
/// A copy of the bytes a model server sent for a cacheable request, taken as they stream through to the client, up
/// to a limit; past it the copy is abandoned (the answer is still served, just not stored).
/// </summary>
internal sealed class ResponseCapture(int limit)
{
    private readonly ArrayBufferWriter<byte> buffer = new(Math.Min(limit, 16 * 1024));

    public bool Overflowed { get; private set; }

    public ReadOnlySpan<byte> Captured => buffer.WrittenSpan;

    public void Append(ReadOnlySpan<byte> data)
    {
        if (Overflowed)
        {
            return;
        }

        if (buffer.WrittenCount + data.Length > limit)
        {
            Overflowed = true;
            buffer.Clear();
            return;
        }

        buffer.Write(data);
    }
}
