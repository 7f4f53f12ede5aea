namespace LlmAspire.Gateway.Inference;

public static class InferenceEndpoints
{
    /// <summary>Maps the OpenAI inference operations; each is forwarded to the model named in its body.</summary>
    public static IEndpointRouteBuilder MapInferenceApi(this IEndpointRouteBuilder endpoints)
    {
        var v1 = endpoints.MapGroup("/v1");
        v1.MapPost("/chat/completions", (HttpContext context, InferenceProxy proxy) => proxy.HandleAsync(context, InferenceOperation.Chat));
        v1.MapPost("/completions", (HttpContext context, InferenceProxy proxy) => proxy.HandleAsync(context, InferenceOperation.TextCompletion));
        v1.MapPost("/embeddings", (HttpContext context, InferenceProxy proxy) => proxy.HandleAsync(context, InferenceOperation.Embeddings));
        return endpoints;
    }
}
