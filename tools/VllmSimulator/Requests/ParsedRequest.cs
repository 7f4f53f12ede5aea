using LlmAspire.VllmSimulator.Generation;

namespace LlmAspire.VllmSimulator.Requests;

/// <summary>One embedding input: its hash (seeds the vector) and its word count (its prompt tokens).</summary>
internal readonly record struct EmbeddingInput(ulong Hash, int Tokens);

/// <summary>What the simulator needs from a request body; everything else in it is ignored.</summary>
internal readonly record struct ParsedRequest(
    ServedModel Model,
    bool Stream,
    bool IncludeUsage,
    int? MaxTokens,
    ulong PromptHash,
    long? Seed,
    int PromptTokens,
    bool Base64Embeddings,
    List<EmbeddingInput>? EmbeddingInputs)
{
    /// <summary>Seeds the token sequence from (model, prompt text, seed), so identical requests get identical answers.</summary>
    public ulong GenerationSeed
    {
        get
        {
            var hash = TextHash.Append(PromptHash, Model.NameHash);
            return TextHash.Mix(Seed is { } seed ? TextHash.Append(hash, (ulong)seed) : hash);
        }
    }
}

/// <summary>An OpenAI-shaped error to answer instead of running the request.</summary>
internal readonly record struct RequestError(int StatusCode, string Message, string? Param);
