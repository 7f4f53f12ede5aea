using System.Net.Http.Headers;
using System.Text;
using LlmAspire.HostileInput;
using LlmAspire.ModelManager.Runtimes;
using LlmAspire.ModelManager.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace LlmAspire.ModelManager.Tests;

/// <summary>
/// Every error ModelManager answers has its documented body, <c>{"error":{"message","type","code"}}</c>: those of
/// parameter binding and routing, and those Kestrel answers by itself before the API sees the request.
/// </summary>
public sealed class ErrorBodyTests : IAsyncLifetime
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
}
