using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmAspire.TestToolkit.Servers;

[assembly: AssemblyFixture(typeof(LlmAspire.Gateway.Tests.Infrastructure.StorageServers))]

namespace LlmAspire.Gateway.Tests.Infrastructure;

/// <summary>
/// One redis-server and one PostgreSQL for the whole test assembly. Tests that share them keep apart by using a
/// database of their own and keys and tenants with random ids; tests that stop a server start a private one.
/// </summary>
public sealed class StorageServers : IAsyncLifetime
{
    public const string AdminKey = "test-admin-key-0123456789abcdef";

    public RedisServer Redis { get; private set; } = null!;

    public PostgresServer Postgres { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        var redis = RedisServer.StartAsync();
        var postgres = PostgresServer.StartAsync();
        Redis = await redis;
        Postgres = await postgres;
    }

    public async ValueTask DisposeAsync()
    {
        await Redis.DisposeAsync();
        await Postgres.DisposeAsync();
    }

    /// <summary>
    /// Settings of a gateway with everything on: API keys and the ledger in <paramref name="database"/>, the cache and
    /// shared limits in <paramref name="redis"/> (none when null), its own spool directory.
    /// </summary>
    public static IEnumerable<KeyValuePair<string, string>> GatewaySettings(string database, string? redis, string spoolDirectory)
    {
        yield return KeyValuePair.Create("ConnectionStrings:gatewaydb", database);
        if (redis is not null)
        {
            yield return KeyValuePair.Create("ConnectionStrings:cache", redis);
        }

        yield return KeyValuePair.Create("Gateway:Auth:Enabled", "true");
        yield return KeyValuePair.Create("Gateway:Auth:AdminKey", AdminKey);
        yield return KeyValuePair.Create("Gateway:Ledger:SpoolDirectory", spoolDirectory);
        yield return KeyValuePair.Create("Gateway:Ledger:RetryInterval", "00:00:00.500");
    }

    /// <summary>Creates an API key through the admin API and returns the whole key.</summary>
    public static Task<(string Id, string Key)> CreateKeyAsync(GatewayServer gateway, string tenant, object? limits = null) =>
        CreateKeyAsync(gateway.Client, tenant, limits);

    /// <summary>Creates an API key through the admin API of the gateway <paramref name="client"/> talks to.</summary>
    public static async Task<(string Id, string Key)> CreateKeyAsync(HttpClient client, string tenant, object? limits = null)
    {
        var body = new JsonObject { ["name"] = $"test key of {tenant}", ["tenant"] = tenant };
        if (limits is not null)
        {
            foreach (var (name, value) in System.Text.Json.JsonSerializer.SerializeToNode(limits)!.AsObject())
            {
                body[name] = value?.DeepClone();
            }
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, "/admin/keys") { Content = JsonContent.Create(body) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AdminKey);
        using var response = await client.SendAsync(request, TestContext.Current.CancellationToken);
        var created = JsonNode.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken))!;
        Assert.True(response.IsSuccessStatusCode, created.ToJsonString());
        return ((string)created["api_key"]!["id"]!, (string)created["key"]!);
    }

    /// <summary>Adds <c>Authorization: Bearer <paramref name="key"/></c> to a request.</summary>
    public static HttpRequestMessage WithKey(HttpRequestMessage request, string key)
    {
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return request;
    }
}
