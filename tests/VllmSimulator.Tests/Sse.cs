using System.Text.Json;

namespace LlmAspire.VllmSimulator.Tests;

/// <summary>Reads a server-sent event stream the way an OpenAI client does, keeping the raw data lines.</summary>
public static class Sse
{
    public static async Task<List<string>> ReadEventsAsync(HttpResponseMessage response, CancellationToken cancellationToken = default)
    {
        var events = new List<string>();
        await foreach (var data in ReadAsync(response, cancellationToken))
        {
            events.Add(data);
        }

        return events;
    }

    /// <summary>Yields the payload of every <c>data: </c> event, as it arrives.</summary>
    public static async IAsyncEnumerable<string> ReadAsync(
        HttpResponseMessage response, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken));
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            if (line.Length == 0)
            {
                continue;
            }

            Assert.StartsWith("data: ", line);
            Assert.Equal("", await reader.ReadLineAsync(cancellationToken));
            yield return line["data: ".Length..];
        }
    }

    /// <summary>The text a chat or completion chunk carries ("" for role and usage chunks).</summary>
    public static string TokenText(string data)
    {
        using var json = JsonDocument.Parse(data);
        var choices = json.RootElement.GetProperty("choices");
        if (choices.GetArrayLength() == 0)
        {
            return "";
        }

        var choice = choices[0];
        return choice.TryGetProperty("delta", out var delta)
            ? delta.TryGetProperty("content", out var content) ? content.GetString()! : ""
            : choice.GetProperty("text").GetString()!;
    }

    public static bool IsContentChunk(string data) => data != "[DONE]" && !data.StartsWith("{\"error\"", StringComparison.Ordinal)
        && TokenText(data).Length > 0;
}
