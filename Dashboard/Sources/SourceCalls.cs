using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlmAspire.Dashboard.Configuration;
using Microsoft.Extensions.Options;

namespace LlmAspire.Dashboard.Sources;

/// <summary>What every source client does the same way: short calls with a deadline, event streams, readable errors.</summary>
public static class SourceCalls
{
    public static readonly JsonSerializerOptions CamelCase = new(JsonSerializerDefaults.Web);

    /// <summary>
    /// The clients have no total timeout (streams and model starts run for minutes), so a short call gets the
    /// dashboard's <see cref="DashboardOptions.RequestTimeout"/> here.
    /// </summary>
    public static CancellationTokenSource Deadline(IOptions<DashboardOptions> options, CancellationToken cancellationToken)
    {
        var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(options.Value.RequestTimeout);
        return deadline;
    }

    public static async Task<T> SendAsync<T>(HttpClient http, HttpRequestMessage request, JsonSerializerOptions json, CancellationToken cancellationToken)
    {
        using var response = await http.SendAsync(request, cancellationToken);
        await EnsureSuccessAsync(response, cancellationToken);
        return await response.Content.ReadFromJsonAsync<T>(json, cancellationToken)
            ?? throw new SourceException($"{request.RequestUri} answered an empty body.");
    }

    /// <summary>Yields the data of each event of <paramref name="path"/>'s event stream (of type <paramref name="eventType"/> when given) until it ends.</summary>
    public static async IAsyncEnumerable<T> StreamAsync<T>(HttpClient http, string path, string? eventType, JsonSerializerOptions json,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Accept.ParseAdd("text/event-stream");
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        await EnsureSuccessAsync(response, cancellationToken);
        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        var parser = SseParser.Create(stream, (type, data) => type == eventType || eventType is null ? JsonSerializer.Deserialize<T>(data, json) : default);
        await foreach (var item in parser.EnumerateAsync(cancellationToken))
        {
            if (item.Data is { } data)
            {
                yield return data;
            }
        }
    }

    /// <summary>Throws a <see cref="SourceException"/> with the source's own error message (OpenAI's error shape) for a failed answer.</summary>
    public static async Task EnsureSuccessAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode)
        {
            return;
        }

        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        string? message = null;
        try
        {
            message = (string?)JsonNode.Parse(body)?["error"]?["message"];
        }
        catch (JsonException)
        {
            // Not OpenAI's error shape: the raw body is the message.
        }

        message ??= string.IsNullOrWhiteSpace(body) ? response.ReasonPhrase : body.Trim();
        throw new SourceException($"{response.RequestMessage?.RequestUri} answered {(int)response.StatusCode}: {message}");
    }

    public static string Describe(Exception exception) => exception switch
    {
        SourceException => exception.Message,
        OperationCanceledException => "No answer within the request timeout.",
        HttpRequestException { InnerException: { } inner } http => $"{http.Message} ({inner.Message})",
        _ => exception.Message,
    };
}

/// <summary>A source answered, but with an error; the message is the source's own.</summary>
public sealed class SourceException(string message) : Exception(message);
