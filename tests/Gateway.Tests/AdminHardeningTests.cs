using System.Net;
using System.Text;
using LlmAspire.Gateway.Tests.Infrastructure;
using LlmAspire.TestToolkit.Servers;
using static LlmAspire.Gateway.Tests.Infrastructure.StorageServers;
using static LlmAspire.TestToolkit.OpenAiRequests;

namespace LlmAspire.Gateway.Tests;

/// <summary>The admin API against a real PostgreSQL: input it cannot take is a 400 or 404, PostgreSQL down is a 503 with Retry-After.</summary>
public sealed class AdminHardeningTests(StorageServers servers) : IAsyncLifetime
{
    private readonly string spool = Directory.CreateTempSubdirectory("llmaspire-spool-").FullName;
    private RecordingUpstream upstream = null!;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => upstream = await RecordingUpstream.StartAsync(context => context.Response.WriteAsync("{}"));

    public async ValueTask DisposeAsync()
    {
        await upstream.DisposeAsync();
        Directory.Delete(spool, recursive: true);
    }

    public static TheoryData<string, string, string, HttpStatusCode> Requests => new()
    {
        { "POST", "/admin/keys", """{"name":"a\u0000b","tenant":"t"}""", HttpStatusCode.BadRequest },
        { "POST", "/admin/keys", """{"name":"cut \ud83d","tenant":"t"}""", HttpStatusCode.BadRequest },
        { "POST", "/admin/keys", """{"name":"n","tenant":"t","name":"again"}""", HttpStatusCode.BadRequest },
        { "POST", "/admin/keys", """{"name":"n","tenant":"t","requests_per_minute":1e400}""", HttpStatusCode.BadRequest },
        { "POST", "/admin/keys", "{\"name\":\"\xff\",\"tenant\":\"t\"}", HttpStatusCode.BadRequest },
        { "DELETE", "/admin/keys/not-a-key-id", "", HttpStatusCode.NotFound },
        { "DELETE", "/admin/keys/" + new string('a', 5000), "", HttpStatusCode.NotFound },
        { "GET", "/admin/usage?from=0001-01-01&to=9999-12-31", "", HttpStatusCode.OK },
        { "GET", "/admin/usage?model=x%00&key_id=%ED%A0%80", "", HttpStatusCode.OK },
        { "GET", "/admin/usage?from=2026-02-30", "", HttpStatusCode.BadRequest },
    };

    [Theory]
    [MemberData(nameof(Requests))]
    public async Task Input_PostgreSQL_cannot_take_is_refused_or_made_harmless(string method, string path, string body, HttpStatusCode expected)
    {
        await using var gateway = await StartGatewayAsync(await servers.Postgres.CreateDatabaseAsync());
        using var request = WithKey(new HttpRequestMessage(new HttpMethod(method), path), AdminKey);
        if (body.Length > 0)
        {
            // Latin-1 carries the invalid UTF-8 byte of one case through as it is.
            request.Content = new ByteArrayContent(Encoding.Latin1.GetBytes(body));
        }

        using var response = await gateway.Client.SendAsync(request, Token);

        Assert.Equal(expected, response.StatusCode);
        if (expected != HttpStatusCode.OK)
        {
            await ErrorAsync(response);
        }
    }

    [Fact]
    public async Task Every_call_that_needs_PostgreSQL_is_503_with_retry_after_while_it_is_down()
    {
        await using var postgres = await PostgresServer.StartAsync();
        await using var gateway = await StartGatewayAsync(await postgres.CreateDatabaseAsync());
        var (id, _) = await CreateKeyAsync(gateway, "team-admin");
        await postgres.StopAsync();

        foreach (var (method, path, body) in new[]
        {
            ("GET", "/admin/keys", ""),
            ("POST", "/admin/keys", """{"name":"n","tenant":"t"}"""),
            ("DELETE", $"/admin/keys/{id}", ""),
            ("GET", "/admin/usage", ""),
        })
        {
            using var request = WithKey(new HttpRequestMessage(new HttpMethod(method), path), AdminKey);
            if (body.Length > 0)
            {
                request.Content = new StringContent(body, Encoding.UTF8, "application/json");
            }

            using var response = await gateway.Client.SendAsync(request, Token);

            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.Equal("storage_unavailable", (string?)(await ErrorAsync(response))["code"]);
            Assert.NotNull(response.Headers.RetryAfter);
        }
    }

    private Task<GatewayServer> StartGatewayAsync(string database) =>
        GatewayServer.StartAsync(GatewayServer.ModelSettings("m", upstream.BaseAddress).Concat(GatewaySettings(database, null, spool)));
}
