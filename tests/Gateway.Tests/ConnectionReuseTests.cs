using System.Net;
using LlmAspire.Gateway.Tests.Infrastructure;
using static LlmAspire.TestToolkit.OpenAiRequests;

namespace LlmAspire.Gateway.Tests;

/// <summary>Upstream connections come from one shared pool: reused across requests, never more than admission allows.</summary>
public sealed class ConnectionReuseTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Three_models_with_fifty_concurrent_streams_each_reuse_a_bounded_set_of_connections()
    {
        const int MaxConcurrent = 16, StreamsPerModel = 50, Rounds = 2;
        string[] models = ["alpha", "beta", "gamma"];
        var simulators = new Dictionary<string, SimulatorServer>();
        foreach (var model in models)
        {
            simulators[model] = await SimulatorServer.StartAsync(model, "--output-tokens", "10", "--tokens-per-second", "500");
        }

        try
        {
            await using var gateway = await GatewayServer.StartAsync(models.SelectMany(model => GatewayServer.ModelSettings(
                model, simulators[model].BaseAddress, ("MaxConcurrent", $"{MaxConcurrent}"), ("MaxQueue", "100"))));
            using var metrics = new MetricRecorder(gateway.Services, "llmaspire.gateway.upstream.connections.opened");

            for (var round = 0; round < Rounds; round++)
            {
                var streams = models.SelectMany(model => Enumerable.Range(0, StreamsPerModel).Select(async _ =>
                {
                    using var response = await gateway.Client.SendAsync(Chat(model, stream: true), HttpCompletionOption.ResponseHeadersRead, Token);
                    Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                    var events = await ReadEventsAsync(response, Token);
                    Assert.Equal("[DONE]", events[^1]);
                }));
                await Task.WhenAll(streams);
            }

            foreach (var model in models)
            {
                Assert.Equal(StreamsPerModel * Rounds, simulators[model].State.RequestsCompleted);
                Assert.InRange(simulators[model].State.ConnectionsOpened, 1, MaxConcurrent);
            }

            Assert.InRange(metrics.Sum("llmaspire.gateway.upstream.connections.opened"), models.Length, models.Length * MaxConcurrent);
        }
        finally
        {
            foreach (var simulator in simulators.Values)
            {
                await simulator.DisposeAsync();
            }
        }
    }
}
