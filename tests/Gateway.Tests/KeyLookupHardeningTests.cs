using System.Diagnostics;
using System.Net;
using LlmAspire.Gateway.Api.Authentication;
using LlmAspire.Gateway.Tests.Infrastructure;
using LlmAspire.TestToolkit.Servers;
using Microsoft.Extensions.DependencyInjection;
using static LlmAspire.Gateway.Tests.Infrastructure.StorageServers;
using static LlmAspire.TestToolkit.OpenAiRequests;

namespace LlmAspire.Gateway.Tests;

/// <summary>
/// Key lookups against a PostgreSQL of its own that is stopped or hung (SIGSTOP): made-up keys neither push out the
/// keys callers use nor load the database beyond a fixed rate, and a hung database costs a request about a second.
/// </summary>
public sealed class KeyLookupHardeningTests : IAsyncLifetime
{
    private const int LookupsPerSecond = 50;

    // A guard, not a measure: the lookup timeout is one second, a hung query without one waits for half a minute.
    private static readonly TimeSpan HungGuard = TimeSpan.FromSeconds(15);

    private readonly string spool = Directory.CreateTempSubdirectory("llmaspire-spool-").FullName;
    private RecordingUpstream upstream = null!;
    private PostgresServer postgres = null!;
    private GatewayServer gateway = null!;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        upstream = await RecordingUpstream.StartAsync(context => context.Response.WriteAsync("""{"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1}}"""));
        postgres = await PostgresServer.StartAsync();
        gateway = await GatewayServer.StartAsync(GatewayServer.ModelSettings("m", upstream.BaseAddress)
            .Concat(GatewaySettings(await postgres.CreateDatabaseAsync(), null, spool))
            .Append(KeyValuePair.Create("Gateway:Auth:KeyCacheTtl", "00:00:00.100"))
            .Append(KeyValuePair.Create("Gateway:Auth:NewKeyLookupsPerSecond", LookupsPerSecond.ToString(System.Globalization.CultureInfo.InvariantCulture))));
    }

    public async ValueTask DisposeAsync()
    {
        postgres.Thaw();
        await gateway.DisposeAsync();
        await postgres.DisposeAsync();
        await upstream.DisposeAsync();
        Directory.Delete(spool, recursive: true);
    }

    [Fact]
    public async Task A_flood_of_made_up_keys_costs_a_bounded_number_of_queries_and_keys_in_use_survive_a_later_outage()
    {
        var (_, key) = await CreateKeyAsync(gateway, "team-flood");
        await ExpectAsync(key, HttpStatusCode.OK);
        using var metrics = new MetricRecorder(gateway.Services, "llmaspire.auth.key_lookups");
        var clock = Stopwatch.StartNew();

        // Over HTTP: every made-up key is refused (401) or asked to come back (503), never more.
        var answers = await Task.WhenAll(Enumerable.Range(0, 400).Select(async _ =>
        {
            using var response = await gateway.Client.SendAsync(WithKey(Chat("m"), ApiKeyFormat.Create().Key), Token);
            return response.StatusCode;
        }));
        Assert.All(answers, status => Assert.True(status is HttpStatusCode.Unauthorized or HttpStatusCode.ServiceUnavailable, status.ToString()));

        // Straight at the authenticator, as many as once emptied its whole cache.
        var authenticator = gateway.Services.GetRequiredService<ApiKeyAuthenticator>();
        await Parallel.ForAsync(0, 100_000, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = Token },
            async (_, cancellation) => await authenticator.AuthenticateAsync(ApiKeyFormat.Create().Key, cancellation));
        var seconds = clock.Elapsed.TotalSeconds;

        // An upper bound that holds however slow the machine: the token bucket's burst plus its rate over the time taken.
        var queries = metrics.Sum("llmaspire.auth.key_lookups") - metrics.Sum("llmaspire.auth.key_lookups", "result", "throttled");
        Assert.InRange(queries, 1, LookupsPerSecond * (seconds + 2));

        await postgres.StopAsync();
        await ExpectAsync(key, HttpStatusCode.OK);
    }

    [Fact]
    public async Task A_hung_database_costs_a_request_about_a_second_a_known_key_keeps_working_and_an_unseen_one_gets_503()
    {
        var (_, known) = await CreateKeyAsync(gateway, "team-hung");
        var (_, unseen) = await CreateKeyAsync(gateway, "team-hung");
        await ExpectAsync(known, HttpStatusCode.OK);

        postgres.Freeze();
        await ExpectAsync(known, HttpStatusCode.OK);
        var refused = await ExpectAsync(unseen, HttpStatusCode.ServiceUnavailable);
        Assert.Equal("auth_unavailable", refused);
        await ExpectAsync(known, HttpStatusCode.OK);

        postgres.Thaw();
        await Eventually.HoldsAsync(async () =>
        {
            using var response = await gateway.Client.SendAsync(WithKey(Chat("m"), unseen), Token);
            return response.StatusCode == HttpStatusCode.OK;
        }, "the unseen key works once PostgreSQL answers again");
    }

    /// <summary>Sends a request with <paramref name="key"/> and expects its status within <see cref="HungGuard"/>; returns the error code.</summary>
    private async Task<string?> ExpectAsync(string key, HttpStatusCode expected)
    {
        using var guard = CancellationTokenSource.CreateLinkedTokenSource(Token);
        guard.CancelAfter(HungGuard);
        using var response = await gateway.Client.SendAsync(WithKey(Chat("m"), key), guard.Token);
        Assert.Equal(expected, response.StatusCode);
        return response.IsSuccessStatusCode ? null : (string?)(await ErrorAsync(response))["code"];
    }
}
