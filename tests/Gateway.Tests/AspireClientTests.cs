using System.Net;
using LlmAspire.Cache;
using LlmAspire.Gateway.Tests.Infrastructure;
using LlmAspire.Storage;
using LlmAspire.TestToolkit.Servers;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Npgsql;
using StackExchange.Redis;
using static LlmAspire.Gateway.Tests.Infrastructure.StorageServers;
using static LlmAspire.TestToolkit.OpenAiRequests;

namespace LlmAspire.Gateway.Tests;

/// <summary>
/// Redis and PostgreSQL come from Aspire's client integrations: their settings apply, their health checks keep their
/// names but say Degraded when a server is down (the gateway serves on), and without a connection string the feature is off.
/// </summary>
public sealed class AspireClientTests(StorageServers servers) : IAsyncLifetime
{
    private readonly string spool = Directory.CreateTempSubdirectory("llmaspire-spool-").FullName;
    private SimulatorServer simulator = null!;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => simulator = await SimulatorServer.StartAsync("m");

    public async ValueTask DisposeAsync()
    {
        await simulator.DisposeAsync();
        Directory.Delete(spool, recursive: true);
    }

    [Fact]
    public async Task The_gateway_uses_the_clients_aspire_registers_with_its_settings_and_degraded_health_checks()
    {
        var database = await servers.Postgres.CreateDatabaseAsync();
        await using var gateway = await GatewayServer.StartAsync(GatewayServer.ModelSettings("m", simulator.BaseAddress)
            .Concat(GatewaySettings(database, servers.Redis.ConnectionString, spool))
            .Append(KeyValuePair.Create("Aspire:StackExchange:Redis:ConfigurationOptions:ClientName", "aspire-client-test")));

        var multiplexer = gateway.Services.GetRequiredService<IConnectionMultiplexer>();
        Assert.Equal("aspire-client-test", multiplexer.ClientName);
        Assert.True(gateway.Services.GetRequiredService<RedisConnection>().IsAvailable);
        Assert.Same(gateway.Services.GetRequiredService<NpgsqlDataSource>(), gateway.Services.GetRequiredService<GatewayDatabase>().DataSource);

        var checks = HealthChecks(gateway);
        Assert.Equal(HealthStatus.Degraded, checks[RedisConnection.HealthCheckName].FailureStatus);
        Assert.Equal(HealthStatus.Degraded, checks[GatewayDatabase.HealthCheckName].FailureStatus);
        Assert.Equal("Healthy", await HealthAsync(gateway));

        // A setting the integration reads from configuration: its own health check off means none in its place either.
        await using var withoutCheck = await GatewayServer.StartAsync(GatewayServer.ModelSettings("m", simulator.BaseAddress)
            .Concat(GatewaySettings(database, servers.Redis.ConnectionString, spool))
            .Append(KeyValuePair.Create("Aspire:Npgsql:DisableHealthChecks", "true")));
        Assert.DoesNotContain(GatewayDatabase.HealthCheckName, HealthChecks(withoutCheck).Keys);
        Assert.Contains(RedisConnection.HealthCheckName, HealthChecks(withoutCheck).Keys);
    }

    [Fact]
    public async Task With_redis_and_postgres_down_health_is_degraded_and_requests_are_still_served()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var postgres = await PostgresServer.StartAsync();
        await using var gateway = await GatewayServer.StartAsync(GatewayServer.ModelSettings("m", simulator.BaseAddress)
            .Concat(GatewaySettings(await postgres.CreateDatabaseAsync(), redis.ConnectionString, spool)));
        var (_, key) = await CreateKeyAsync(gateway, "team-health");
        // Used once, so the key is in the gateway's key cache when PostgreSQL goes away.
        using (var before = await gateway.Client.SendAsync(WithKey(Chat("m"), key), Token))
        {
            Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        }

        await redis.KillAsync();
        await postgres.StopAsync();

        Assert.Equal("Degraded", await HealthAsync(gateway));
        using var served = await gateway.Client.SendAsync(WithKey(Chat("m"), key), Token);
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
    }

    [Fact]
    public async Task Without_connection_strings_there_is_no_redis_or_postgres_client_and_no_check_for_them()
    {
        await using var gateway = await GatewayServer.StartAsync(GatewayServer.ModelSettings("m", simulator.BaseAddress));

        Assert.Null(gateway.Services.GetService<IConnectionMultiplexer>());
        Assert.Null(gateway.Services.GetService<NpgsqlDataSource>());
        Assert.False(gateway.Services.GetRequiredService<RedisConnection>().IsConfigured);
        Assert.False(gateway.Services.GetRequiredService<GatewayDatabase>().IsConfigured);
        Assert.DoesNotContain(RedisConnection.HealthCheckName, HealthChecks(gateway).Keys);
        Assert.DoesNotContain(GatewayDatabase.HealthCheckName, HealthChecks(gateway).Keys);
        Assert.Equal("Healthy", await HealthAsync(gateway));

        // The cache is off, not failing: a deterministic request is served without an x-cache verdict.
        using var served = await gateway.Client.SendAsync(Chat("m", extra: new { temperature = 0 }), Token);
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
        Assert.False(served.Headers.Contains("x-cache"));
    }

    private static Dictionary<string, HealthCheckRegistration> HealthChecks(GatewayServer gateway) =>
        gateway.Services.GetRequiredService<IOptions<HealthCheckServiceOptions>>().Value.Registrations.ToDictionary(registration => registration.Name);

    /// <summary>The body of <c>/health</c>, which answers 200 unless something is Unhealthy.</summary>
    private static async Task<string> HealthAsync(GatewayServer gateway)
    {
        using var response = await gateway.Client.GetAsync("/health", Token);
        var body = await response.Content.ReadAsStringAsync(Token);
        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        return body;
    }
}
