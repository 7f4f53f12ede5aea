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
        // Plain request delegates on the one proxy: no parameter binding and no request service scope per call. The proxy
        // is resolved on first use, so that invalid settings still stop the gateway at start, not while it is mapped.
        var services = endpoints.ServiceProvider;
        InferenceProxy? proxy = null;
        var v1 = endpoints.MapGroup("/v1");
        foreach (var (path, operation) in new[]
        {
            ("/chat/completions", InferenceOperation.Chat),
            ("/completions", InferenceOperation.TextCompletion),
            ("/embeddings", InferenceOperation.Embeddings),
        })
        {
            v1.MapPost(path, context => (proxy ??= services.GetRequiredService<InferenceProxy>()).HandleAsync(context, operation)).WithMetadata(new InferenceEndpointMetadata(operation));
        }

        return endpoints;
    }
}
