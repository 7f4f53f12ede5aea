using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using LlmAspire.Gateway.Tests.Infrastructure;
using Microsoft.Extensions.Options;
using static LlmAspire.Gateway.Tests.Infrastructure.StorageServers;
using static LlmAspire.TestToolkit.OpenAiRequests;

namespace LlmAspire.Gateway.Tests;

/// <summary>API keys and the admin API against a real PostgreSQL: create, use, list, revoke; every refusal a 401 in OpenAI's shape.</summary>
public sealed class ApiKeyTests(StorageServers servers) : IAsyncLifetime
{
    private readonly string spool = Directory.CreateTempSubdirectory("llmaspire-spool-").FullName;
    private RecordingUpstream upstream = null!;
    private GatewayServer gateway = null!;
    private string database = null!;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        upstream = await RecordingUpstream.StartAsync(async context =>
        {
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync("""{"object":"chat.completion","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4}}""");
        });
        database = await servers.Postgres.CreateDatabaseAsync();
        gateway = await StartGatewayAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await gateway.DisposeAsync();
        await upstream.DisposeAsync();
        Directory.Delete(spool, recursive: true);
    }

    [Fact]
    public async Task A_created_key_works_is_listed_without_its_secret_and_is_refused_once_revoked()
    {
        var (id, key) = await CreateKeyAsync(gateway, "team-a", new { requests_per_minute = 100 });
        Assert.Matches("^llma_[a-z0-9]{12}_[A-Za-z0-9]{40}$", key);
        Assert.StartsWith($"llma_{id}_", key, StringComparison.Ordinal);

        using (var served = await gateway.Client.SendAsync(WithKey(Chat("m"), key), Token))
        {
            Assert.Equal(HttpStatusCode.OK, served.StatusCode);
        }

        var list = await AdminAsync(HttpMethod.Get, "/admin/keys");
        var listed = Assert.Single(list["data"]!.AsArray(), entry => (string?)entry!["id"] == id)!;
        Assert.Equal("team-a", (string?)listed["tenant"]);
        Assert.Equal(100, (int?)listed["requests_per_minute"]);
        Assert.Equal(1, (int?)listed["queue_weight"]);
        Assert.Null(listed["key"]);
        Assert.Null(listed["secret_hash"]);
        Assert.DoesNotContain(key[^40..], list.ToJsonString(), StringComparison.Ordinal);

        var revoked = await AdminAsync(HttpMethod.Delete, $"/admin/keys/{id}");
        Assert.NotNull((string?)revoked["revoked_at"]);

        using var refused = await gateway.Client.SendAsync(WithKey(Chat("m"), key), Token);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal("invalid_api_key", (string?)(await ErrorAsync(refused))["code"]);
    }

    [Fact]
    public async Task A_keys_queue_weight_is_stored_and_listed()
    {
        var (id, _) = await CreateKeyAsync(gateway, "team-w", new { queue_weight = 4 });

        var listed = Assert.Single((await AdminAsync(HttpMethod.Get, "/admin/keys"))["data"]!.AsArray(), entry => (string?)entry!["id"] == id)!;

        Assert.Equal(4, (int?)listed["queue_weight"]);
        Assert.Equal(4, await servers.Postgres.ScalarAsync(database, $"SELECT queue_weight FROM api_keys WHERE id = '{id}'"));
    }

    [Fact]
    public async Task Revocation_reaches_another_replica_within_its_key_cache_ttl()
    {
        await using var replica = await StartGatewayAsync(("Gateway:Auth:KeyCacheTtl", "00:00:01"));
        var (id, key) = await CreateKeyAsync(gateway, "team-b");
        using (var warm = await replica.Client.SendAsync(WithKey(Chat("m"), key), Token))
        {
            Assert.Equal(HttpStatusCode.OK, warm.StatusCode);
        }

        await AdminAsync(HttpMethod.Delete, $"/admin/keys/{id}");

        await AdmissionTests.WaitUntilAsync(() =>
        {
            using var response = replica.Client.Send(WithKey(Chat("m"), key), Token);
            return response.StatusCode == HttpStatusCode.Unauthorized;
        });
    }

    [Theory]
    [InlineData(null, "missing_api_key")]
    [InlineData("Bearer", "missing_api_key")]
    [InlineData("Basic dXNlcjpwYXNz", "missing_api_key")]
    [InlineData("Bearer sk-not-ours", "invalid_api_key")]
    [InlineData("Bearer llma_abcdefghijkl_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "invalid_api_key")]
    [InlineData("Bearer " + AdminKey, "invalid_api_key")]
    public async Task Missing_or_wrong_keys_are_401_in_openai_shape(string? authorization, string code)
    {
        foreach (var request in new[] { Chat("m"), new HttpRequestMessage(HttpMethod.Get, "/v1/models") })
        {
            if (authorization is not null)
            {
                request.Headers.TryAddWithoutValidation("Authorization", authorization);
            }

            using var response = await gateway.Client.SendAsync(request, Token);

            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Equal("Bearer", response.Headers.WwwAuthenticate.ToString());
            var error = await ErrorAsync(response);
            Assert.Equal("invalid_request_error", (string?)error["type"]);
            Assert.Equal(code, (string?)error["code"]);
        }

        Assert.Empty(upstream.Requests);
    }

    [Fact]
    public async Task The_right_id_with_a_wrong_secret_is_401()
    {
        var (id, _) = await CreateKeyAsync(gateway, "team-c");
        using var response = await gateway.Client.SendAsync(WithKey(Chat("m"), $"llma_{id}_{new string('x', 40)}"), Token);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("invalid_api_key", (string?)(await ErrorAsync(response))["code"]);
    }

    [Fact]
    public async Task The_admin_api_takes_only_the_admin_key()
    {
        var (_, key) = await CreateKeyAsync(gateway, "team-d");
        foreach (var presented in new[] { null, key, AdminKey + "x" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/admin/keys");
            if (presented is not null)
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", presented);
            }

            using var response = await gateway.Client.SendAsync(request, Token);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Equal("invalid_admin_key", (string?)(await ErrorAsync(response))["code"]);
        }

        await using var closed = await GatewayServer.StartAsync(GatewayServer.ModelSettings("m", upstream.BaseAddress)
            .Concat(GatewaySettings(database, null, spool)).Where(setting => setting.Key != "Gateway:Auth:AdminKey"));
        using var disabled = await closed.Client.SendAsync(WithKey(new HttpRequestMessage(HttpMethod.Get, "/admin/keys"), AdminKey), Token);
        Assert.Equal(HttpStatusCode.Unauthorized, disabled.StatusCode);
        Assert.Equal("admin_disabled", (string?)(await ErrorAsync(disabled))["code"]);
    }

    [Theory]
    [InlineData("""{"tenant":"t"}""", "name")]
    [InlineData("""{"name":"n"}""", "tenant")]
    [InlineData("""{"name":"n","tenant":"has space"}""", "tenant")]
    [InlineData("""{"name":"n","tenant":"t","requests_per_minute":-1}""", "requests_per_minute")]
    [InlineData("""{"name":"n","tenant":"t","queue_weight":0}""", "queue_weight")]
    [InlineData("""{"name":"n","tenant":"t","queue_weight":101}""", "queue_weight")]
    public async Task Invalid_key_requests_are_400(string body, string param)
    {
        using var request = WithKey(Post("/admin/keys", body), AdminKey);
        using var response = await gateway.Client.SendAsync(request, Token);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(param, (string?)(await ErrorAsync(response))["param"]);
    }

    [Fact]
    public async Task Authentication_on_without_a_database_refuses_to_start_and_names_the_switch()
    {
        await using var app = GatewayServer.Build(GatewayServer.ModelSettings("m", upstream.BaseAddress).Append(KeyValuePair.Create("Gateway:Auth:Enabled", "true")));

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync(Token));

        Assert.Contains("ConnectionStrings__gatewaydb", error.Message, StringComparison.Ordinal);
        Assert.Contains("Gateway__Auth__Enabled=false", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Gateways_starting_together_apply_each_migration_once()
    {
        var fresh = await servers.Postgres.CreateDatabaseAsync();
        var settings = GatewayServer.ModelSettings("m", upstream.BaseAddress).Concat(GatewaySettings(fresh, null, spool)).ToList();

        var started = await Task.WhenAll(GatewayServer.StartAsync(settings), GatewayServer.StartAsync(settings));
        await using var first = started[0];
        await using var second = started[1];

        var migrations = typeof(LlmAspire.Storage.GatewayDatabase).Assembly.GetManifestResourceNames().Count(name => name.EndsWith(".sql", StringComparison.Ordinal));
        Assert.Equal(migrations, await servers.Postgres.ScalarAsync(fresh, "SELECT count(*) FROM schemaversions"));
        Assert.Equal(migrations, await servers.Postgres.ScalarAsync(fresh, "SELECT count(DISTINCT scriptname) FROM schemaversions"));
        Assert.Equal(3, await servers.Postgres.ScalarAsync(fresh,
            "SELECT count(*) FROM information_schema.tables WHERE table_name IN ('api_keys', 'usage_ledger', 'model_lifecycle_events')"));
    }

    private Task<GatewayServer> StartGatewayAsync(params (string Key, string Value)[] extra) =>
        GatewayServer.StartAsync(GatewayServer.ModelSettings("m", upstream.BaseAddress)
            .Concat(GatewaySettings(database, null, spool))
            .Concat(extra.Select(setting => KeyValuePair.Create(setting.Key, setting.Value))));

    private async Task<JsonNode> AdminAsync(HttpMethod method, string path)
    {
        using var request = WithKey(new HttpRequestMessage(method, path), AdminKey);
        using var response = await gateway.Client.SendAsync(request, Token);
        var body = await response.Content.ReadAsStringAsync(Token);
        Assert.True(response.IsSuccessStatusCode, body);
        return JsonNode.Parse(body)!;
    }
}
