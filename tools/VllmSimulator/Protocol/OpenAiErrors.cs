using Microsoft.AspNetCore.WebUtilities;

namespace LlmAspire.VllmSimulator.Protocol;

/// <summary>Error bodies in the shape vLLM's OpenAI server uses: <c>{"error":{"message","type","param","code"}}</c>.</summary>
internal static class OpenAiErrors
{
    public static ValueTask<System.IO.Pipelines.FlushResult> Send(HttpResponse response, int statusCode, string message, string? param = null)
    {
        var json = JsonBody.Start();
        json.WriteStartObject();
        json.WriteStartObject("error"u8);
        json.WriteString("message"u8, message);
        json.WriteString("type"u8, TypeFor(statusCode));
        if (param is null)
        {
            json.WriteNull("param"u8);
        }
        else
        {
            json.WriteString("param"u8, param);
        }

        json.WriteNumber("code"u8, statusCode);
        json.WriteEndObject();
        json.WriteEndObject();
        return JsonBody.Send(response, statusCode);
    }

    public static ValueTask<System.IO.Pipelines.FlushResult> ModelNotFound(HttpResponse response, string model) =>
        Send(response, StatusCodes.Status404NotFound, $"The model `{model}` does not exist.", "model");

    /// <summary>vLLM names error types after the HTTP reason phrase: "Not Found" → NotFoundError.</summary>
    public static string TypeFor(int statusCode)
    {
        var phrase = ReasonPhrases.GetReasonPhrase(statusCode).Replace(" ", "", StringComparison.Ordinal);
        return phrase.Length == 0 ? (statusCode >= 500 ? "InternalServerError" : "BadRequestError")
            : phrase.EndsWith("Error", StringComparison.Ordinal) ? phrase
            : phrase + "Error";
    }
}
