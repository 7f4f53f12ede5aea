namespace LlmAspire.VllmSimulator.Generation;

internal enum FinishReason
{
    /// <summary>Not the last token: the chunk says <c>"finish_reason":null</c>.</summary>
    None,
    Stop,
    Length,
}

internal static class FinishReasonText
{
    public static ReadOnlySpan<byte> Text(this FinishReason reason) => reason == FinishReason.Length ? "length"u8 : "stop"u8;

    public static ReadOnlySpan<byte> Json(this FinishReason reason) => reason switch
    {
        FinishReason.None => "null"u8,
        FinishReason.Length => "\"length\""u8,
        _ => "\"stop\""u8,
    };
}
