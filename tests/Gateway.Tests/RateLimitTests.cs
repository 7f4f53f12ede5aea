using System.Net;
using LlmAspire.Gateway.Tests.Infrastructure;
using LlmAspire.TestToolkit.Servers;
using static LlmAspire.Gateway.Tests.Infrastructure.StorageServers;
using static LlmAspire.TestToolkit.OpenAiRequests;

namespace LlmAspire.Gateway.Tests;

/// <summary>Per-key limits in Redis shared by replicas, OpenAI's headers, 429s, budgets, and the per-replica fallback.</summary>
public sealed class RateLimitTests(StorageServers servers) : IAsyncLifetime
{
    private readonly string spool = Directory.CreateTempSubdirectory("llmaspire-spool-").FullName;
    private SimulatorServer simulator = null!;
    private string database = null!;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        simulator = await SimulatorServer.StartAsync("m", "--output-tokens", "12");
        database = await servers.Postgres.CreateDatabaseAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await simulator.DisposeAsync();
        Directory.Delete(spool, recursive: true);
    }

    [Fact]
    public async Task The_request_limit_is_shared_by_two_gateways_on_one_redis()
    {
        await using var a = await StartGatewayAsync(servers.Redis.ConnectionString);
        await using var b = await StartGatewayAsync(servers.Redis.ConnectionString);
        var (_, key) = await CreateKeyAsync(a, "team-rl", new { requests_per_minute = 4 });

        var remaining = new List<string>();
        foreach (var gateway in new[] { a, b, a, b })
        {
            using var served = await gateway.Client.SendAsync(WithKey(Chat("m"), key), Token);
            Assert.Equal(HttpStatusCode.OK, served.StatusCode);
            Assert.Equal("4", Header(served, "x-ratelimit-limit-requests"));
            Assert.EndsWith("s", Header(served, "x-ratelimit-reset-requests"), StringComparison.Ordinal);
            remaining.Add(Header(served, "x-ratelimit-remaining-requests")!);
        }

        Assert.Equal(["3", "2", "1", "0"], remaining);
        foreach (var gateway in new[] { a, b })
        {
            using var refused = await gateway.Client.SendAsync(WithKey(Chat("m"), key), Token);
            Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
            Assert.True(refused.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1));
            Assert.Equal("0", Header(refused, "x-ratelimit-remaining-requests"));
            var error = await ErrorAsync(refused);
            Assert.Equal("rate_limit_exceeded", (string?)error["code"]);
            Assert.Equal("rate_limit_error", (string?)error["type"]);
        }

        Assert.Equal(4, simulator.State.RequestsCompleted);
    }

    [Fact]
    public async Task Tokens_per_minute_are_charged_after_each_answer_and_enforced()
    {
        await using var gateway = await StartGatewayAsync(servers.Redis.ConnectionString);
        var (_, key) = await CreateKeyAsync(gateway, "team-tpm", new { tokens_per_minute = 30 });

        using (var first = await gateway.Client.SendAsync(WithKey(Chat("m"), key), Token))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
            Assert.Equal("30", Header(first, "x-ratelimit-limit-tokens"));
        }

        var refused = await SendUntilRefusedAsync(gateway, key);
        Assert.Equal("rate_limit_exceeded", (string?)(await ErrorAsync(refused))["code"]);
        Assert.Equal("0", Header(refused, "x-ratelimit-remaining-tokens"));
    }

    [Fact]
    public async Task An_exhausted_monthly_budget_is_429_insufficient_quota()
    {
        await using var gateway = await StartGatewayAsync(servers.Redis.ConnectionString);
        var (_, key) = await CreateKeyAsync(gateway, "team-budget", new { monthly_token_budget = 40 });

        var refused = await SendUntilRefusedAsync(gateway, key);

        var error = await ErrorAsync(refused);
        Assert.Equal("insufficient_quota", (string?)error["code"]);
        Assert.Equal("insufficient_quota", (string?)error["type"]);
        Assert.True(refused.Headers.RetryAfter?.Delta > TimeSpan.Zero);
        Assert.InRange(simulator.State.RequestsCompleted, 1, 4);
    }

    [Fact]
    public async Task Without_redis_each_replica_enforces_the_limit_on_its_own()
    {
        // Nothing listens there: the gateway starts, warns, and limits in memory.
        await using var gateway = await StartGatewayAsync($"127.0.0.1:{Loopback.FreePort()}");
        var (_, key) = await CreateKeyAsync(gateway, "team-local", new { requests_per_minute = 2 });

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 3; i++)
        {
            using var response = await gateway.Client.SendAsync(WithKey(Chat("m"), key), Token);
            statuses.Add(response.StatusCode);
        }

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests], statuses);
    }

    /// <summary>Sends until a 429 (tokens are charged just after each answer, so the refusal may take a request or two).</summary>
    private static async Task<HttpResponseMessage> SendUntilRefusedAsync(GatewayServer gateway, string key)
    {
        for (var attempt = 0; attempt < 50; attempt++)
        {
            var response = await gateway.Client.SendAsync(WithKey(Chat("m"), key), Token);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                return response;
            }

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            response.Dispose();
            await Task.Delay(50, Token);
        }

        Assert.Fail("The limit was never enforced.");
        return null!;
    }

    private Task<GatewayServer> StartGatewayAsync(string redis) =>
        GatewayServer.StartAsync(GatewayServer.ModelSettings("m", simulator.BaseAddress).Concat(GatewaySettings(database, redis, spool)));

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? values.Single() : null;
}
