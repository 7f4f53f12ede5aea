using System.Globalization;
using System.Text.Json.Nodes;

namespace LlmAspire.ModelManager.Tests.Infrastructure;

/// <summary>A consumer of ModelManager's change feed (<c>GET /api/changes/stream</c>), reading its <c>models</c> events.</summary>
public sealed class ChangeStream : IAsyncDisposable
{
    private readonly HttpResponseMessage response;
    private readonly StreamReader reader;

    private ChangeStream(HttpResponseMessage response, StreamReader reader)
    {
        this.response = response;
        this.reader = reader;
    }

    public HttpResponseMessage Response => response;

    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    public static async Task<ChangeStream> OpenAsync(HttpClient client)
    {
        var response = await client.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/api/changes/stream"), HttpCompletionOption.ResponseHeadersRead, Cancellation);
        return new ChangeStream(response, new StreamReader(await response.Content.ReadAsStreamAsync(Cancellation)));
    }

    /// <summary>The next event (id, name, data), skipping comment lines; fails after 30 s without one.</summary>
    public async Task<(long Id, string Event, JsonNode Data)> ReadEventAsync()
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Cancellation);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        long id = 0;
        string? name = null;
        string? data = null;
        while (await reader.ReadLineAsync(timeout.Token) is { } line)
        {
            if (line.Length == 0 && data is not null)
            {
                return (id, name!, JsonNode.Parse(data)!);
            }

            if (line.StartsWith("id: ", StringComparison.Ordinal))
            {
                id = long.Parse(line[4..], CultureInfo.InvariantCulture);
            }
            else if (line.StartsWith("event: ", StringComparison.Ordinal))
            {
                name = line[7..];
            }
            else if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                data = line[6..];
            }
        }

        throw new InvalidOperationException("The event stream ended.");
    }

    /// <summary>The next raw line (events and comments alike).</summary>
    public ValueTask<string?> ReadLineAsync() => reader.ReadLineAsync(Cancellation);

    /// <summary>Reads events until one shows <paramref name="model"/> as <paramref name="condition"/> wants it, and returns that model's view.</summary>
    public async Task<JsonNode> WaitForAsync(string model, Func<JsonNode, bool> condition, string what)
    {
        var seen = new List<string>();
        var until = DateTime.UtcNow + Eventually.DefaultDeadline;
        while (DateTime.UtcNow < until)
        {
            JsonNode view;
            try
            {
                view = Model((await ReadEventAsync()).Data, model);
            }
            catch (OperationCanceledException) when (!Cancellation.IsCancellationRequested)
            {
                break;
            }

            if (condition(view))
            {
                return view;
            }

            seen.Add(view.ToJsonString());
        }

        Assert.Fail($"No event showed {what}; seen:{Environment.NewLine}{string.Join(Environment.NewLine, seen)}");
        return null!;
    }

    /// <summary>One model's entry in a <c>models</c> event.</summary>
    public static JsonNode Model(JsonNode fleet, string model) => fleet["models"]!.AsArray().Single(entry => (string?)entry!["id"] == model)!;

    public ValueTask DisposeAsync()
    {
        reader.Dispose();
        response.Dispose();
        return ValueTask.CompletedTask;
    }
}
