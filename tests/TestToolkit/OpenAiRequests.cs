using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace LlmAspire.TestToolkit;

/// <summary>Request bodies and server-sent event reading for raw-HTTP tests.</summary>
public static class OpenAiRequests
{
    public static HttpRequestMessage Chat(string model, bool stream = false, string prompt = "Say something", object? extra = null, params (string Name, string Value)[] headers)
    {
        var body = new JsonObject
        {
            ["model"] = model,
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = prompt }),
            ["stream"] = stream,
        };
        if (extra is not null)
        {
            foreach (var (key, value) in JsonSerializer.SerializeToNode(extra)!.AsObject())
            {
                body[key] = value?.DeepClone();
            }
        }

        return Post("/v1/chat/completions", body.ToJsonString(), headers);
    }

    public static HttpRequestMessage Post(string path, string json, params (string Name, string Value)[] headers)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path)
        {
            Content = new StringContent(json, Encoding.UTF8, new MediaTypeHeaderValue("application/json")),
        };
        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        return request;
    }

    /// <summary>Reads every <c>data:</c> payload of an event stream, in order, until the server ends it.</summary>
    public static async Task<List<string>> ReadEventsAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var events = new List<string>();
        await foreach (var data in EventsAsync(response, cancellationToken))
        {
            events.Add(data);
        }

        return events;
    }

    public static async IAsyncEnumerable<string> EventsAsync(HttpResponseMessage response, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken));
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                yield return line["data: ".Length..];
            }
        }
    }

    /// <summary>The text of the content deltas of chat chunks.</summary>
    public static string Content(IEnumerable<string> events) => string.Concat(events
        .Where(data => data != "[DONE]")
        .Select(data => JsonNode.Parse(data)!["choices"]!.AsArray())
        .Where(choices => choices.Count > 0)
        .Select(choices => (string?)choices[0]!["delta"]?["content"] ?? ""));

    public static async Task<JsonNode> ErrorAsync(HttpResponseMessage response)
    {
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken))!["error"];
        Assert.NotNull(error);
        Assert.False(string.IsNullOrWhiteSpace((string?)error["message"]));
        Assert.NotNull(error["type"]);
        return error;
    }
}
