namespace LlmAspire.Cache;

/// <summary>The OpenAI operations whose answers the cache stores; the shape of a stored answer depends on it.</summary>
public enum CompletionKind
{
    Chat,
    Text,
    Embeddings,
}
