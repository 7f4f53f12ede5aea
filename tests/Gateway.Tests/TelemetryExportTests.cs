using System.Net;
using LlmAspire.Gateway.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using static LlmAspire.Gateway.Tests.Infrastructure.StorageServers;
using static LlmAspire.TestToolkit.OpenAiRequests;

namespace LlmAspire.Gateway.Tests;

/// <summary>
/// With an OTLP endpoint, the gateway's own telemetry and that of Aspire's Npgsql and Redis clients leave the process;
/// without one, no OpenTelemetry pipeline is installed at all.
/// </summary>
public sealed class TelemetryExportTests(StorageServers servers)
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task With_an_otlp_endpoint_the_gateway_and_its_redis_and_postgres_clients_export_traces_and_metrics()
    {
        // An OTLP/HTTP receiver on loopback; the payloads are protobuf, in which scope and instrument names are plain text.
        await using var collector = await RecordingUpstream.StartAsync(context => Task.CompletedTask);
        await using var simulator = await SimulatorServer.StartAsync("m");
        var spool = Directory.CreateTempSubdirectory("llmaspire-spool-");
        try
        {
            await using var gateway = await GatewayServer.StartAsync(GatewayServer.ModelSettings("m", simulator.BaseAddress)
                .Concat(GatewaySettings(await servers.Postgres.CreateDatabaseAsync(), servers.Redis.ConnectionString, spool.FullName))
                .Concat(
                [
                    KeyValuePair.Create("OTEL_EXPORTER_OTLP_ENDPOINT", collector.BaseAddress.ToString()),
                    KeyValuePair.Create("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
                    KeyValuePair.Create("OTEL_BSP_SCHEDULE_DELAY", "100"),
                    KeyValuePair.Create("OTEL_METRIC_EXPORT_INTERVAL", "200"),
                ]));
            var (_, key) = await CreateKeyAsync(gateway, "team-telemetry");
            using var response = await gateway.Client.SendAsync(WithKey(Chat("m", extra: new { temperature = 0 }), key), Token);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);

            await Eventually.HoldsAsync(() => Exported(collector, "/v1/traces", "Npgsql"), "Npgsql spans are exported");
            await Eventually.HoldsAsync(() => Exported(collector, "/v1/traces", "StackExchangeRedis"), "Redis spans are exported");
            await Eventually.HoldsAsync(() => Exported(collector, "/v1/metrics", "Npgsql"), "Npgsql metrics are exported");
            await Eventually.HoldsAsync(() => Exported(collector, "/v1/metrics", "llmaspire.gateway.requests"), "the gateway's metrics are exported");
        }
        finally
        {
            spool.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Without_an_otlp_endpoint_no_tracer_or_meter_provider_exists_even_with_redis_and_postgres()
    {
        var spool = Directory.CreateTempSubdirectory("llmaspire-spool-");
        try
        {
            await using var gateway = await GatewayServer.StartAsync(
                GatewaySettings(await servers.Postgres.CreateDatabaseAsync(), servers.Redis.ConnectionString, spool.FullName));

            Assert.Null(gateway.Services.GetService<TracerProvider>());
            Assert.Null(gateway.Services.GetService<MeterProvider>());
        }
        finally
        {
            spool.Delete(recursive: true);
        }
    }

    private static bool Exported(RecordingUpstream collector, string path, string name) =>
        collector.Requests.Any(request => request.Path == path && request.Body.Contains(name, StringComparison.Ordinal));
}
