using LlmAspire.Gateway.Api.Requests;

namespace LlmAspire.Gateway.Api.Inference;

internal static class InferenceEndpoints
{
    /// <summary>Registers the request path of the inference operations (its steps are registered by their own features).</summary>
    public static IServiceCollection AddInferenceApi(this IServiceCollection services)
    {
        services.AddSingleton<InferenceBodyReader>();
        services.AddSingleton<ModelLoadingWait>();
        services.AddSingleton<InferenceProxy>();
        return services;
    }

    /// <summary>Maps the OpenAI inference operations; each is forwarded to the model named in its body.</summary>
    public static IEndpointRouteBuilder MapInferenceApi(this IEndpointRouteBuilder endpoints)
    {
        var v1 = endpoints.MapGroup("/v1");
        v1.MapPost("/chat/completions", (HttpContext context, InferenceProxy proxy) => proxy.HandleAsync(context, InferenceOperation.Chat))
            .WithMetadata(new InferenceEndpointMetadata(InferenceOperation.Chat));
        v1.MapPost("/completions", (HttpContext context, InferenceProxy proxy) => proxy.HandleAsync(context, InferenceOperation.TextCompletion))
            .WithMetadata(new InferenceEndpointMetadata(InferenceOperation.TextCompletion));
        v1.MapPost("/embeddings", (HttpContext context, InferenceProxy proxy) => proxy.HandleAsync(context, InferenceOperation.Embeddings))
            .WithMetadata(new InferenceEndpointMetadata(InferenceOperation.Embeddings));
        return endpoints;
    }
}
