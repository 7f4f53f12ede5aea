namespace LlmAspire.Gateway.Api.Requests;

/// <summary>The OpenAI operations the gateway forwards.</summary>
internal enum InferenceOperation
{
    Chat,
    TextCompletion,
    Embeddings,
}

internal static class InferenceOperationNames
{
    /// <summary>The operation's name in the GenAI semantic conventions (<c>gen_ai.operation.name</c>), also the ledger's.</summary>
    public static string Name(this InferenceOperation operation) => operation switch
    {
        InferenceOperation.Chat => "chat",
        InferenceOperation.TextCompletion => "text_completion",
        _ => "embeddings",
    };
}
