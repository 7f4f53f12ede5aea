using System.Globalization;
using System.Text.Json;
using LlmAspire.VllmSimulator.Protocol;

namespace LlmAspire.VllmSimulator.SleepMode;

/// <summary>
/// vLLM's sleep-mode endpoints: <c>POST /sleep?level=1|2</c>, <c>POST /wake_up[?tags=weights&amp;tags=kv_cache]</c>,
/// <c>GET /is_sleeping</c> (<c>{"is_sleeping":bool}</c>) and, of <c>POST /collective_rpc</c>, the
/// <c>reload_weights</c> method that waking from level 2 needs. Mapped only with <c>--enable-sleep-mode</c>; otherwise
/// they answer 404, as vLLM's do without its dev mode.
/// </summary>
internal static class SleepModeEndpoints
{
    public static IEndpointRouteBuilder MapSleepMode(this IEndpointRouteBuilder endpoints, Lazy<EngineSleep> engine)
    {
        endpoints.MapPost("/sleep", async context =>
        {
            var level = context.Request.Query["level"].ToString() is { Length: > 0 } text ? text : "1";
            if (level is not ("1" or "2"))
            {
                await OpenAiErrors.Send(context.Response, StatusCodes.Status400BadRequest, $"Sleep level '{level}' is not 1 or 2.", "level");
                return;
            }

            await engine.Value.SleepAsync(int.Parse(level, CultureInfo.InvariantCulture), context.RequestAborted);
        });

        endpoints.MapPost("/wake_up", async context =>
        {
            var tags = context.Request.Query["tags"].Where(tag => !string.IsNullOrEmpty(tag)).Select(tag => tag!).ToList();
            if (tags.FirstOrDefault(tag => tag is not (EngineSleep.Weights or EngineSleep.KvCache)) is { } unknown)
            {
                await OpenAiErrors.Send(context.Response, StatusCodes.Status400BadRequest,
                    $"Unknown tag '{unknown}'; expected '{EngineSleep.Weights}' or '{EngineSleep.KvCache}'.", "tags");
                return;
            }

            await engine.Value.WakeUpAsync(tags, context.RequestAborted);
        });

        endpoints.MapGet("/is_sleeping", async context =>
        {
            var json = JsonBody.Start();
            json.WriteStartObject();
            json.WriteBoolean("is_sleeping"u8, engine.Value.IsSleeping);
            json.WriteEndObject();
            await JsonBody.Send(context.Response, StatusCodes.Status200OK);
        });

        endpoints.MapPost("/collective_rpc", CollectiveRpcAsync);
        return endpoints;

        async Task CollectiveRpcAsync(HttpContext context)
        {
            string? method;
            try
            {
                using var body = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted);
                method = body.RootElement.ValueKind == JsonValueKind.Object && body.RootElement.TryGetProperty("method", out var name) ? name.GetString() : null;
            }
            catch (JsonException exception)
            {
                await OpenAiErrors.Send(context.Response, StatusCodes.Status400BadRequest, $"JSON decode error: {exception.Message}");
                return;
            }

            if (method != "reload_weights")
            {
                await OpenAiErrors.Send(context.Response, StatusCodes.Status400BadRequest,
                    method is null ? "Missing 'method' in request body" : $"The simulator has no method '{method}'; it simulates 'reload_weights' only.", "method");
                return;
            }

            if (!await engine.Value.ReloadWeightsAsync(context.RequestAborted))
            {
                await OpenAiErrors.Send(context.Response, StatusCodes.Status500InternalServerError,
                    "The weights' memory is not allocated: wake up with tags=weights first.");
                return;
            }

            var json = JsonBody.Start();
            json.WriteStartObject();
            json.WriteStartArray("results"u8);
            json.WriteNullValue();
            json.WriteEndArray();
            json.WriteEndObject();
            await JsonBody.Send(context.Response, StatusCodes.Status200OK);
        }
    }
}
