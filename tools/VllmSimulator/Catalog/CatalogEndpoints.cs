using System.Text.Encodings.Web;
using System.Text.Json;

namespace LlmAspire.VllmSimulator.Catalog;

/// <summary><c>/health</c> and <c>/v1/models</c>, the two endpoints a lifecycle manager polls for readiness.</summary>
internal static class CatalogEndpoints
{
    public const int MaxModelLength = 8192;

    public static IEndpointRouteBuilder MapCatalog(this IEndpointRouteBuilder endpoints, Lazy<SimulatorState> state, TimeProvider time)
    {
        // The server listens only once its models are loaded, so answering at all means healthy.
        endpoints.MapGet("/health", static _ => Task.CompletedTask);

        var models = new Lazy<byte[]>(() => ModelList(state.Value, time.GetUtcNow().ToUnixTimeSeconds()));
        endpoints.MapGet("/v1/models", context =>
        {
            context.Response.ContentType = "application/json";
            context.Response.ContentLength = models.Value.Length;
            return context.Response.Body.WriteAsync(models.Value, context.RequestAborted).AsTask();
        });
        return endpoints;
    }

    /// <summary>The list never changes while the server runs, so it is encoded once.</summary>
    private static byte[] ModelList(SimulatorState state, long created)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteString("object"u8, "list"u8);
            json.WriteStartArray("data"u8);
            foreach (var model in state.Models)
            {
                json.WriteStartObject();
                json.WriteString("id"u8, model.JsonName);
                json.WriteString("object"u8, "model"u8);
                json.WriteNumber("created"u8, created);
                json.WriteString("owned_by"u8, "vllm"u8);
                json.WriteString("root"u8, model.JsonName);
                json.WriteNull("parent"u8);
                json.WriteNumber("max_model_len"u8, MaxModelLength);
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        return stream.ToArray();
    }
}
