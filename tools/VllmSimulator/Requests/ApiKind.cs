namespace LlmAspire.VllmSimulator.Requests;

internal enum ApiKind
{
    ChatCompletions,
    Completions,
    Embeddings,
}
