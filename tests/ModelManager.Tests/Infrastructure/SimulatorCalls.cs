using System.Globalization;
using System.Net;
using System.Text;

namespace LlmAspire.ModelManager.Tests.Infrastructure;

/// <summary>Requests straight to a model server's OpenAI-compatible API, as the gateway would forward them.</summary>
public static class SimulatorCalls
{
    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    public static async Task<string> CompleteAsync(Uri endpoint, string model)
    {
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false });
        using var response = await client.PostAsync(
            new Uri(endpoint, "v1/chat/completions"),
            new StringContent($$"""{"model":"{{model}}","messages":[{"role":"user","content":"hello"}]}""", Encoding.UTF8, "application/json"),
            Cancellation);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsStringAsync(Cancellation);
    }

    /// <summary>A streamed completion of <paramref name="outputTokens"/> tokens at <paramref name="tokensPerSecond"/>, read to its end.</summary>
    public static async Task<string> StreamAsync(Uri endpoint, string model, int outputTokens, int tokensPerSecond)
    {
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false });
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(endpoint, "v1/chat/completions"))
        {
            Content = new StringContent($$"""{"model":"{{model}}","stream":true,"messages":[{"role":"user","content":"hello"}]}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("x-sim-output-tokens", outputTokens.ToString(CultureInfo.InvariantCulture));
        request.Headers.Add("x-sim-tokens-per-second", tokensPerSecond.ToString(CultureInfo.InvariantCulture));
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, Cancellation);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsStringAsync(Cancellation);
    }

    /// <summary>
    /// Plays a gateway replica serving a 3-second stream from the model: reports it in flight every 200 ms while it
    /// runs, checking the model stays ready; then checks the stream arrived whole and reports the model idle.
    /// </summary>
    public static async Task StreamWhileReportingAsync(ModelManagerHost host, string model, Uri endpoint)
    {
        using var streaming = new CancellationTokenSource();
        var reporting = Task.Run(async () =>
        {
            while (!streaming.IsCancellationRequested)
            {
                await host.ReportAsync("gateway-1", model, 1, 0);
                Assert.Equal("ready", await host.StateAsync(model));
                await Task.Delay(200, CancellationToken.None);
            }
        }, Cancellation);
        var stream = await StreamAsync(endpoint, model, outputTokens: 30, tokensPerSecond: 10);
        await streaming.CancelAsync();
        await reporting;

        Assert.EndsWith("data: [DONE]", stream.TrimEnd(), StringComparison.Ordinal);
        Assert.True(stream.Split('\n').Count(line => line.StartsWith("data: {", StringComparison.Ordinal)) >= 30, stream);
        Assert.DoesNotContain("\"error\"", stream, StringComparison.Ordinal);
        Assert.Equal("ready", await host.StateAsync(model));
        await host.ReportAsync("gateway-1", model, 0, 0);
    }
}
