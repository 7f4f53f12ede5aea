using System.Buffers;
using System.IO.Pipelines;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace LlmAspire.VllmSimulator.Protocol;

/// <summary>
/// Builds a whole JSON response body with a per-thread <see cref="Utf8JsonWriter"/> and buffer, so that a response
/// costs no allocations and goes out with a Content-Length (as uvicorn sends it) instead of chunked encoding.
/// Callers write and <see cref="Send"/> without awaiting in between: the buffer belongs to the current thread.
/// </summary>
internal static class JsonBody
{
    public const string ContentType = "application/json";

    /// <summary>A larger buffer is dropped after use rather than kept per thread for good.</summary>
    private const int RetainedCapacity = 1 << 20;

    // Relaxed escaping writes non-ASCII model names and text as UTF-8, like vLLM's JSON encoder.
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_buffer;

    [ThreadStatic]
    private static Utf8JsonWriter? t_writer;

    public static Utf8JsonWriter Start()
    {
        var buffer = t_buffer ??= new ArrayBufferWriter<byte>(4096);
        buffer.ResetWrittenCount();
        var writer = t_writer ??= new Utf8JsonWriter(buffer, WriterOptions);
        writer.Reset(buffer);
        return writer;
    }

    /// <summary>What <see cref="Start"/>'s writer has produced, once the writer was flushed.</summary>
    public static ReadOnlySpan<byte> Written => t_buffer!.WrittenSpan;

    /// <summary>Copies what <see cref="Start"/>'s writer produced into the response and flushes it.</summary>
    public static ValueTask<FlushResult> Send(HttpResponse response, int statusCode)
    {
        var writer = t_writer!;
        var buffer = t_buffer!;
        writer.Flush();
        var body = buffer.WrittenSpan;
        response.StatusCode = statusCode;
        response.ContentType = ContentType;
        response.ContentLength = body.Length;
        var pipe = response.BodyWriter;
        body.CopyTo(pipe.GetSpan(body.Length));
        pipe.Advance(body.Length);
        if (buffer.Capacity > RetainedCapacity)
        {
            t_buffer = null;
            t_writer = null;
        }

        return pipe.FlushAsync();
    }
}
