using System.Net;
using System.Net.Http.Headers;
using System.Text;
using LlmAspire.ModelManager.Runtimes;
using LlmAspire.ModelManager.Tests.Infrastructure;
using LlmAspire.TestToolkit.HostileInput;
using Microsoft.Extensions.DependencyInjection;

namespace LlmAspire.ModelManager.Tests;

/// <summary>
/// The hostile-input corpus against every endpoint of ModelManager: no answer is a 5xx, every error has the documented
/// shape, <c>{"error":{"message","type","code"}}</c> (also those of parameter binding, routing and Kestrel itself), and
/// the service still starts a model afterwards.
/// </summary>
public sealed class HostileInputTests : IAsyncLifetime
{
    private ReadyServer readyServer = null!;
    private ModelManagerHost host = null!;

    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        readyServer = await ReadyServer.StartAsync();
        var runtime = new FakeRuntime(readyServer.Address);
        host = await ModelManagerHost.StartAsync([new("ModelManager:Models:alpha:Command", "unused")], services => services.AddSingleton<IModelServerRuntime>(runtime));
    }

    public async ValueTask DisposeAsync()
    {
        await host.DisposeAsync();
        await readyServer.DisposeAsync();
    }

    [Fact]
    public async Task No_activity_report_gets_a_5xx_and_every_error_has_the_documented_shape()
    {
        var failures = new List<string>();
        var bodies = HostileCorpus.For("""{"replica":"gateway-1","models":{"alpha":{"inFlight":0,"idleSeconds":12.5}}}""",
            "replica", "models", "models.alpha", "models.alpha.inFlight", "models.alpha.idleSeconds").ToList();
        foreach (var body in bodies)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/activity") { Content = new ByteArrayContent(body.Bytes) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            await CheckAsync(request, body.Name, failures);
        }

        Assert.True(failures.Count == 0, $"{failures.Count} of {bodies.Count} bodies:\n{string.Join('\n', failures)}");
        await AModelStillStartsAsync();
    }

    [Fact]
    public async Task No_query_or_path_value_gets_a_5xx_and_every_error_has_the_documented_shape()
    {
        var failures = new List<string>();
        foreach (var value in HostileCorpus.UrlValues)
        {
            foreach (var (method, url) in new[]
            {
                ("GET", $"/api/models/{value}"),
                ("POST", $"/api/models/{value}/ensure"),
                ("POST", $"/api/models/alpha/ensure?timeoutSeconds={value}&verify={value}"),
                ("POST", $"/api/models/{value}/stop?force={value}"),
                ("GET", $"/api/changes?since={value}&timeoutSeconds=0.05"),
                ("GET", $"/api/changes?timeoutSeconds={value}"),
                ("GET", $"/api/events?model={value}&limit={value}"),
                ("GET", $"/api/{value}"),
            })
            {
                await CheckAsync(new HttpRequestMessage(new HttpMethod(method), url), $"{method} {url[..Math.Min(url.Length, 80)]}", failures);
            }
        }

        Assert.True(failures.Count == 0, string.Join('\n', failures));
        await AModelStillStartsAsync();
    }

    public static TheoryData<string, string, int, string> Requests => new()
    {
        { "GET", "/api/events?limit=abc", 400, "invalid_request" },
        { "POST", "/api/models/alpha/ensure?timeoutSeconds=soon", 400, "invalid_request" },
        { "POST", "/api/models/alpha/stop?force=maybe", 400, "invalid_request" },
        { "GET", "/api/changes?since=1e999", 400, "invalid_request" },
        { "GET", "/not-the-api", 404, "unknown_url" },
    };

    [Theory]
    [MemberData(nameof(Requests))]
    public async Task Binding_and_routing_errors_have_the_documented_body(string method, string path, int status, string code)
    {
        using var response = await host.Client.SendAsync(new HttpRequestMessage(new HttpMethod(method), path), Cancellation);
        var body = await response.Content.ReadAsByteArrayAsync(Cancellation);

        Assert.Equal(status, (int)response.StatusCode);
        Assert.Null(ErrorShape.Problem(body, ErrorShape.ModelManager));
        Assert.Contains($"\"code\":\"{code}\"", Encoding.UTF8.GetString(body), StringComparison.Ordinal);
    }

    public static TheoryData<string, int> Refused => new()
    {
        { "POST /api/models/x%00/ensure HTTP/1.1\r\nHost: a\r\n\r\n", 400 },
        { $"GET /api/models HTTP/1.1\r\nHost: a\r\nX-Big: {new string('a', 40_000)}\r\n\r\n", 431 },
        { "GET /api/models HTTP/9.9\r\nHost: a\r\n\r\n", 505 },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public async Task Requests_Kestrel_refuses_have_the_documented_body(string request, int status)
    {
        var response = await RawHttp.SendAsync(host.Client.BaseAddress!, Encoding.ASCII.GetBytes(request), Cancellation);

        Assert.Equal(status, response.Status);
        Assert.Equal(new MediaTypeHeaderValue("application/json").MediaType, response.Headers["Content-Type"]);
        Assert.Null(ErrorShape.Problem(response.Body, ErrorShape.ModelManager));
    }

    private async Task CheckAsync(HttpRequestMessage request, string name, List<string> failures)
    {
        using (request)
        {
            using var response = await host.Client.SendAsync(request, Cancellation);
            if (await ErrorShape.ProblemAsync(response, ErrorShape.ModelManager, Cancellation) is { } problem)
            {
                failures.Add($"{name}: {problem}");
            }
        }
    }

    private async Task AModelStillStartsAsync()
    {
        await host.EnsureAsync("alpha");
        using var models = await host.Client.GetAsync("/api/models", Cancellation);
        Assert.Equal(HttpStatusCode.OK, models.StatusCode);
    }
}
