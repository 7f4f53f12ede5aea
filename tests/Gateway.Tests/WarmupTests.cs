using System.Net;
using System.Text.Json.Nodes;
using LlmAspire.Gateway.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using static LlmAspire.TestToolkit.OpenAiRequests;

namespace LlmAspire.Gateway.Tests;

/// <summary>
/// The start-up warm-up: requests through the forwarding path to a loopback stand-in, before the gateway listens,
/// that reach no model server and are not counted as the gateway's requests.
/// </summary>
public sealed class WarmupTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task The_gateway_warms_up_before_it_listens_without_calling_a_model_server()
    {
        await using var simulator = await SimulatorServer.StartAsync("m", "--output-tokens", "5");
        using var logs = new LogCollector("LlmAspire.Gateway.Api.Forwarding.ForwardingWarmup");
        var app = GatewayServer.Build(GatewayServer.ModelSettings("m", simulator.BaseAddress).Concat(
        [
            KeyValuePair.Create("Gateway:WarmupRequests", "300"),
            KeyValuePair.Create("Logging:LogLevel:LlmAspire.Gateway.Api.Forwarding.ForwardingWarmup", "Information"),
        ]), logs.AddTo);
        var lifetime = app.Services.GetRequiredService<IHostApplicationLifetime>();
        var warmedBeforeListening = false;
        lifetime.ApplicationStarted.Register(() => warmedBeforeListening = logs.Contains("Warmed up the forwarding path with 300 requests"));
        await app.StartAsync(Token);
        try
        {
            Assert.True(warmedBeforeListening, string.Join(Environment.NewLine, logs.Messages));
            Assert.DoesNotContain(logs.Entries, entry => entry.Level >= LogLevel.Warning);
            Assert.Equal(0, simulator.State.RequestsCompleted);
            Assert.Equal(0, simulator.State.ConnectionsOpened);

            using var client = new HttpClient { BaseAddress = new Uri(app.Urls.First()) };
            using var response = await client.SendAsync(Chat("m"), Token);
            var body = JsonNode.Parse(await response.Content.ReadAsStringAsync(Token))!;
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(5, (int)body["usage"]!["completion_tokens"]!);
            Assert.Equal(1, simulator.State.RequestsCompleted);
        }
        finally
        {
            await app.StopAsync(CancellationToken.None);
            await app.DisposeAsync();
        }
    }
}
