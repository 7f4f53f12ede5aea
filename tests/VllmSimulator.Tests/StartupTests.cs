using System.Net;
using System.Net.Sockets;
using LlmAspire.TestToolkit.Servers;
using Microsoft.Extensions.Options;

namespace LlmAspire.VllmSimulator.Tests;

/// <summary>Model load time and configuration checks at start-up.</summary>
public sealed class StartupTests
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ServerDoesNotListenUntilTheStartupDelayHasPassed()
    {
        var port = Loopback.FreePort();
        var app = SimulatorApplication.Build(["--urls", $"http://127.0.0.1:{port}", "--startup-delay-ms", "2000"]);
        await using (app)
        {
            var start = app.StartAsync(Cancel);
            await Task.Delay(200, Cancel);

            using (var probe = new TcpClient())
            {
                var refused = await Assert.ThrowsAsync<SocketException>(() => probe.ConnectAsync(IPAddress.Loopback, port, Cancel).AsTask());
                Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
            }

            Assert.False(start.IsCompleted, "the probe must have run while the model was loading");
            await start;

            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
            using var health = await client.GetAsync("/health", Cancel);
            Assert.Equal(HttpStatusCode.OK, health.StatusCode);
            await app.StopAsync(Cancel);
        }
    }

    [Theory]
    [InlineData("--max-concurrency", "0", "Simulator:MaxConcurrency")]
    [InlineData("--ttft-ms", "soon", "Simulator:TtftMs")]
    [InlineData("--tokens-per-second", "-5", "Simulator:TokensPerSecond")]
    [InlineData("--tokens-per-second", "0.001", "Simulator:TokensPerSecond")]
    [InlineData("--fault", "explode", "Simulator:Fault")]
    [InlineData("--model", " , ", "Simulator:Model")]
    public async Task InvalidOptionRefusesToStartNamingTheSetting(string option, string value, string setting)
    {
        await using var app = SimulatorApplication.Build(["--urls", "http://127.0.0.1:0", option, value]);
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync(Cancel));
        Assert.Contains(setting, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SettingsCanComeFromConfigurationKeysToo()
    {
        await using var host = await SimulatorServer.StartWithArgumentsAsync("--Simulator:OutputTokens=3", "--model", "m1");
        using var response = await host.Client.SendAsync(OpenAiRequests.Post("/v1/completions", """{"prompt":"x"}"""), Cancel);
        var body = await response.Content.ReadAsStringAsync(Cancel);
        Assert.Contains("\"completion_tokens\":3}", body, StringComparison.Ordinal);
        Assert.Contains("\"model\":\"m1\"", body, StringComparison.Ordinal);
    }
}
