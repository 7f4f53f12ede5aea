using System.Text.Json;

namespace LlmAspire.Gateway.Api.Routing;

internal static class ModelsEndpoints
{
    /// <summary>
    /// Maps <c>GET /v1/models</c>: the models this gateway routes, in OpenAI's list format. Models of ModelManager's
    /// catalog also carry their <c>state</c> (<c>ready</c>, <c>stopped</c>, <c>starting</c> …); models at a fixed
    /// endpoint have none, since the gateway neither starts nor watches them.
    /// </summary>
    public static IEndpointRouteBuilder MapModelsApi(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/v1/models", async (HttpContext context, IModelRouteTable routes) =>
        {
            context.Response.ContentType = "application/json";
            await using var writer = new Utf8JsonWriter(context.Response.Body);
            writer.WriteStartObject();
            writer.WriteString("object", "list");
            writer.WriteStartArray("data");
            foreach (var model in routes.Models.OrderBy(model => model.Id, StringComparer.Ordinal))
            {
                writer.WriteStartObject();
                writer.WriteString("id", model.Id);
                writer.WriteString("object", "model");
                writer.WriteNumber("created", 0);
                writer.WriteString("owned_by", "llmaspire");
                if (model.Managed && model.State is { } state)
                {
                    writer.WriteString("state", state);
                }

                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
            await writer.FlushAsync(context.RequestAborted);
        });
        return endpoints;
    }
}
