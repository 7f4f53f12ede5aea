using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlmAspire.Gateway.Api.Routing;
using LlmAspire.Gateway.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using static LlmAspire.Gateway.Tests.Infrastructure.LedgerTable;
using static LlmAspire.Gateway.Tests.Infrastructure.StorageServers;
using static LlmAspire.Gateway.Tests.ModelManagerRoutingTests;
using static LlmAspire.TestToolkit.OpenAiRequests;

namespace LlmAspire.Gateway.Tests;

/// <summary>
/// Non-streaming requests that wait for a model to load, against a ModelManager double that loads slowly or fails:
/// opted in (per model or per request), they are answered 200 early and kept alive with spaces, then the model's JSON
/// follows; a failure is then the body, an OpenAI error object, while the ledger records the status it stands for.
/// </summary>
public sealed class LoadingKeepAliveTests(StorageServers servers) : IAsyncLifetime
{
    private const string KeepAliveHeader = "X-LlmAspire-Keepalive";

    // Keep-alives every 200 ms (ManagerSettings), loads of 1.2 s: five spaces or so per request.
    private static readonly TimeSpan LoadTime = TimeSpan.FromMilliseconds(1_200);
    private readonly string spool = Directory.CreateTempSubdirectory("llmaspire-spool-").FullName;
    private SimulatorServer simulator = null!;
    private FakeModelManager manager = null!;
    private string? database;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        simulator = await SimulatorServer.StartAsync("opted,plain");
        manager = await FakeModelManager.StartAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await manager.DisposeAsync();
        await simulator.DisposeAsync();
        Directory.Delete(spool, recursive: true);
    }

    [Fact]
    public async Task A_request_for_a_model_that_opted_in_gets_200_and_spaces_while_it_loads_then_the_models_json()
    {
        await using var gateway = await StartGatewayAsync(LoadsSlowly);

        using var response = await gateway.Client.SendAsync(Chat("opted"), HttpCompletionOption.ResponseHeadersRead, Token);
        var committedBeforeTheModelAnswered = simulator.State.RequestsCompleted == 0;
        var body = await response.Content.ReadAsStringAsync(Token);

        Assert.True(committedBeforeTheModelAnswered, "the response started while the model was loading");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var spaces = body.Length - body.TrimStart(' ').Length;
        Assert.True(spaces >= 3, $"expected a space every 200 ms of a 1.2 s load after the first interval, got {spaces}");
        Assert.StartsWith("{", body.TrimStart(' '), StringComparison.Ordinal);
        var answer = JsonNode.Parse(body)!;
        Assert.Equal("chat.completion", (string?)answer["object"]);
        Assert.NotEmpty(answer["choices"]!.AsArray());
    }

    [Theory]
    [InlineData("plain", "whitespace", true)]
    [InlineData("opted", "none", false)]
    [InlineData("opted", "something else", true)]
    [InlineData("plain", null, false)]
    public async Task A_requests_header_overrides_its_models_setting(string model, string? header, bool spaces)
    {
        await using var gateway = await StartGatewayAsync(LoadsSlowly);
        var request = header is null ? Chat(model) : Chat(model, headers: (KeepAliveHeader, header));

        using var response = await gateway.Client.SendAsync(request, Token);
        var body = await response.Content.ReadAsStringAsync(Token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(spaces, body.StartsWith(' '));
        Assert.Equal("chat.completion", (string?)JsonNode.Parse(body)!["object"]);
    }

    [Fact]
    public async Task A_load_that_fails_after_the_spaces_is_a_200_whose_body_is_the_error_and_the_ledger_records_503()
    {
        await using var gateway = await StartGatewayAsync(FailsAfter(LoadTime), ledger: true);
        var (id, key) = await CreateKeyAsync(gateway, $"team-{Guid.NewGuid():N}"[..20]);

        using var response = await gateway.Client.SendAsync(WithKey(Chat("opted"), key), Token);
        var body = await response.Content.ReadAsStringAsync(Token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith(" ", body, StringComparison.Ordinal);
        using (var document = JsonDocument.Parse(body))
        {
            var error = document.RootElement.GetProperty("error");
            Assert.Equal("model_unavailable", error.GetProperty("code").GetString());
            Assert.Contains("CUDA out of memory", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        }

        await Eventually.HoldsAsync(async () => (await RowsAsync(database!)).Any(row => row.KeyId == id), "the request has its ledger row");
        Assert.Equal(503, Assert.Single(await RowsAsync(database!), row => row.KeyId == id).Status);
    }

    [Fact]
    public async Task A_load_that_fails_within_the_first_interval_keeps_its_real_status()
    {
        await using var gateway = await StartGatewayAsync(FailsAfter(TimeSpan.Zero));

        using var response = await gateway.Client.SendAsync(Chat("opted"), Token);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("model_unavailable", (string?)(await ErrorAsync(response))["code"]);
        Assert.NotNull(response.Headers.RetryAfter);
    }

    [Fact]
    public async Task An_error_the_model_server_answers_after_the_spaces_is_the_body_and_the_ledger_records_its_status()
    {
        await using var gateway = await StartGatewayAsync(LoadsSlowly, ledger: true);
        var (id, key) = await CreateKeyAsync(gateway, $"team-{Guid.NewGuid():N}"[..20]);

        using var response = await gateway.Client.SendAsync(WithKey(Chat("opted", headers: ("x-sim-fault", "error=400")), key), Token);
        var body = await response.Content.ReadAsStringAsync(Token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith(" ", body, StringComparison.Ordinal);
        Assert.NotNull(JsonNode.Parse(body)!["error"]!["message"]);
        await Eventually.HoldsAsync(async () => (await RowsAsync(database!)).Any(row => row.KeyId == id), "the request has its ledger row");
        Assert.Equal(400, Assert.Single(await RowsAsync(database!), row => row.KeyId == id).Status);
    }

    private async Task<IResult> LoadsSlowly(string model, bool verify)
    {
        await Task.Delay(LoadTime, Token);
        return manager.Ready(model, simulator.BaseAddress);
    }

    private static Func<string, bool, Task<IResult>> FailsAfter(TimeSpan delay) => async (model, _) =>
    {
        await Task.Delay(delay, Token);
        return FakeModelManager.Error(503, $"Model '{model}' failed to start: CUDA out of memory", "model_unavailable", retryAfterSeconds: 7);
    };

    /// <summary>A gateway in front of the double, both models stopped; "opted" has whitespace keep-alives on. With <paramref name="ledger"/>, keys and the ledger in a database of its own.</summary>
    private async Task<GatewayServer> StartGatewayAsync(Func<string, bool, Task<IResult>> onEnsure, bool ledger = false)
    {
        manager.Set("opted", "stopped");
        manager.Set("plain", "stopped");
        manager.OnEnsure = onEnsure;
        var settings = ManagerSettings(manager.BaseAddress).Append(KeyValuePair.Create("Gateway:Models:opted:WhitespaceKeepAlive", "true"));
        database = ledger ? await servers.Postgres.CreateDatabaseAsync() : null;
        var gateway = await GatewayServer.StartAsync(database is null ? settings : settings.Concat(GatewaySettings(database, null, spool)));
        // /v1/models needs a key when the ledger (and with it authentication) is on: the table is asked directly.
        var routes = gateway.Services.GetRequiredService<ModelRouteTable>();
        await Eventually.HoldsAsync(() => routes.TryGetModel("opted", out var model) && model.State == "stopped", "the gateway knows the catalog");
        return gateway;
    }
}
