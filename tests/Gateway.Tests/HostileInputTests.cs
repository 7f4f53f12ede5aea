using System.Net;
using System.Net.Http.Headers;
using LlmAspire.Gateway.Api.Ledger;
using LlmAspire.Gateway.Tests.Infrastructure;
using LlmAspire.Storage;
using LlmAspire.TestToolkit.HostileInput;
using static LlmAspire.Gateway.Tests.Infrastructure.StorageServers;
using static LlmAspire.TestToolkit.OpenAiRequests;

namespace LlmAspire.Gateway.Tests;

/// <summary>
/// The hostile-input corpus against every endpoint of a gateway with everything on (keys, limits, ledger, cache) in
/// front of the simulator: no answer is a 5xx, every error has OpenAI's shape, a normal request still succeeds
/// afterwards, and every request still has its ledger row.
/// </summary>
public sealed class HostileInputTests(StorageServers servers) : IAsyncLifetime
{
    private readonly string spool = Directory.CreateTempSubdirectory("llmaspire-spool-").FullName;
    private SimulatorServer simulator = null!;
    private GatewayServer gateway = null!;
    private string key = null!;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        simulator = await SimulatorServer.StartAsync("m", "--output-tokens", "4");
        gateway = await GatewayServer.StartAsync(GatewayServer.ModelSettings("m", simulator.BaseAddress)
            .Concat(GatewaySettings(await servers.Postgres.CreateDatabaseAsync(), servers.Redis.ConnectionString, spool)));
        (_, key) = await CreateKeyAsync(gateway, "team-hostile");
    }

    public async ValueTask DisposeAsync()
    {
        await gateway.DisposeAsync();
        await simulator.DisposeAsync();
        Directory.Delete(spool, recursive: true);
    }

    public static TheoryData<string, string, string[]> Bodies => new()
    {
        { "/v1/chat/completions", """{"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":0,"max_tokens":4,"stream":false}""",
            ["model", "messages", "messages[0]", "messages[0].content", "messages[0].role", "temperature", "max_tokens", "stream"] },
        { "/v1/completions", """{"model":"m","prompt":"hi","seed":7,"stream":true,"stream_options":{"include_usage":false}}""",
            ["model", "prompt", "seed", "stream", "stream_options", "stream_options.include_usage"] },
        { "/v1/embeddings", """{"model":"m","input":["a","b"]}""", ["model", "input", "input[1]"] },
        { "/admin/keys", """{"name":"n","tenant":"t","requests_per_minute":10,"monthly_token_budget":100}""",
            ["name", "tenant", "requests_per_minute", "monthly_token_budget"] },
    };

    [Theory]
    [MemberData(nameof(Bodies))]
    public async Task No_body_gets_a_5xx_and_every_error_has_openai_shape(string path, string template, string[] paths)
    {
        var failures = new List<string>();
        var sent = 0;
        foreach (var body in HostileCorpus.For(template, paths))
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new ByteArrayContent(body.Bytes) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            await CheckAsync(WithKey(request, path.StartsWith("/admin", StringComparison.Ordinal) ? AdminKey : key), body.Name, failures);
            sent++;
        }

        Assert.True(failures.Count == 0, $"{failures.Count} of {sent} bodies:\n{string.Join('\n', failures)}");
        await ANormalRequestStillSucceedsAsync();
    }

    [Fact]
    public async Task No_query_or_path_value_gets_a_5xx_and_every_error_has_openai_shape()
    {
        var failures = new List<string>();
        foreach (var value in HostileCorpus.UrlValues)
        {
            foreach (var (method, url) in new[]
            {
                ("GET", $"/admin/usage?from={value}"),
                ("GET", $"/admin/usage?to={value}"),
                ("GET", $"/admin/usage?from=2026-01-01&to=2026-01-31&key_id={value}&model={value}"),
                ("DELETE", $"/admin/keys/{value}"),
                ("GET", $"/v1/models?{value}={value}"),
                ("POST", $"/v1/chat/completions/{value}"),
            })
            {
                await CheckAsync(WithKey(new HttpRequestMessage(new HttpMethod(method), url), url.StartsWith("/admin", StringComparison.Ordinal) ? AdminKey : key),
                    $"{method} {url[..Math.Min(url.Length, 80)]}", failures);
            }
        }

        Assert.True(failures.Count == 0, string.Join('\n', failures));
        await ANormalRequestStillSucceedsAsync();
    }

    private async Task CheckAsync(HttpRequestMessage request, string name, List<string> failures)
    {
        using (request)
        {
            using var response = await gateway.Client.SendAsync(request, Token);
            if (await ErrorShape.ProblemAsync(response, ErrorShape.OpenAi, Token) is { } problem)
            {
                failures.Add($"{name}: {problem}");
            }
        }
    }

    private async Task ANormalRequestStillSucceedsAsync()
    {
        using var normal = await gateway.Client.SendAsync(WithKey(Chat("m"), key), Token);
        Assert.Equal(HttpStatusCode.OK, normal.StatusCode);

        // Every request of the corpus has its row: nothing is left in the spool, nothing was refused.
        await Eventually.HoldsAsync(() => !Directory.EnumerateFiles(spool, "*.jsonl").Any(), "the spool is empty");
        Assert.False(Directory.Exists(Path.Combine(spool, DiskSpool<UsageEntry>.QuarantineDirectory)));
    }
}
