using System.Net;
using System.Text.Json;
using LlmAspire.Gateway.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using static LlmAspire.TestToolkit.OpenAiRequests;

namespace LlmAspire.Gateway.Tests;

/// <summary>
/// A running gateway follows its <c>Gateway:Models</c> entries when appsettings.json is edited in place, as an operator
/// does: a gateway whose content root is a test folder, its settings file rewritten while requests are served.
/// </summary>
public sealed class ConfigurationReloadTests : IDisposable
{
    private readonly DirectoryInfo contentRoot = Directory.CreateTempSubdirectory("llmaspire-gateway-reload-");
    private readonly LogCollector logs = new();

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Edited_model_entries_apply_to_the_next_request_and_an_invalid_edit_is_not_taken()
    {
        await using var simulator = await SimulatorServer.StartAsync("m");
        await using var second = await SimulatorServer.StartAsync("n");
        await WriteSettingsAsync(("m", simulator.BaseAddress, MaxConcurrent: 1, FirstByteTimeout: "00:01:00"));
        await using var gateway = await GatewayServer.StartAsync([KeyValuePair.Create("contentRoot", contentRoot.FullName)], logs.AddTo);
        var configuration = gateway.Services.GetRequiredService<IConfiguration>();

        using (var first = await gateway.Client.SendAsync(Chat("m"), Token))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        }

        Assert.Equal(1, gateway.Queue("m").MaxConcurrent);

        // More slots, a first-byte timeout shorter than the server's one-second answer, and a second model.
        await WriteSettingsAsync(
            ("m", simulator.BaseAddress, MaxConcurrent: 3, FirstByteTimeout: "00:00:00.300"),
            ("n", second.BaseAddress, MaxConcurrent: 2, FirstByteTimeout: "00:01:00"));
        await Eventually.HoldsAsync(() => gateway.Queue("m").MaxConcurrent == 3, "the queue takes the edited limit");
        using (var slow = await gateway.Client.SendAsync(Chat("m", headers: ("x-sim-ttft-ms", "1000")), Token))
        {
            Assert.Equal(HttpStatusCode.GatewayTimeout, slow.StatusCode);
            Assert.Contains("upstream_timeout", await slow.Content.ReadAsStringAsync(Token), StringComparison.Ordinal);
        }

        using (var added = await gateway.Client.SendAsync(Chat("n"), Token))
        {
            Assert.Equal(HttpStatusCode.OK, added.StatusCode);
        }

        // An edit the gateway would refuse at start-up: it says why, and nothing of it is taken.
        await WriteSettingsAsync(("m", simulator.BaseAddress, MaxConcurrent: 0, FirstByteTimeout: "00:01:00"));
        await Eventually.HoldsAsync(() => configuration["Gateway:Models:m:MaxConcurrent"] == "0", "the edited file is read again");
        await Eventually.HoldsAsync(
            () => logs.Entries.Any(entry => entry.Level == LogLevel.Error && entry.Message.Contains("Gateway:Models:m:MaxConcurrent", StringComparison.Ordinal)),
            "the refused edit is logged with the key");
        using (var afterInvalid = await gateway.Client.SendAsync(Chat("m", headers: ("x-sim-ttft-ms", "1000")), Token))
        {
            Assert.Equal(HttpStatusCode.GatewayTimeout, afterInvalid.StatusCode);
        }

        Assert.Equal(3, gateway.Queue("m").MaxConcurrent);

        // A valid edit after it is taken again.
        await WriteSettingsAsync(("m", simulator.BaseAddress, MaxConcurrent: 2, FirstByteTimeout: "00:01:00"));
        await Eventually.HoldsAsync(() => gateway.Queue("m").MaxConcurrent == 2, "the next valid edit is taken");
        using (var slowAgain = await gateway.Client.SendAsync(Chat("m", headers: ("x-sim-ttft-ms", "1000")), Token))
        {
            Assert.Equal(HttpStatusCode.OK, slowAgain.StatusCode);
        }

        using var removed = await gateway.Client.SendAsync(Chat("n"), Token);
        Assert.Equal(HttpStatusCode.NotFound, removed.StatusCode);
    }

    public void Dispose() => contentRoot.Delete(recursive: true);

    private Task WriteSettingsAsync(params (string Id, Uri Endpoint, int MaxConcurrent, string FirstByteTimeout)[] models)
    {
        var settings = new
        {
            Gateway = new
            {
                Models = models.ToDictionary(
                    model => model.Id,
                    model => new { Endpoint = model.Endpoint.ToString(), model.MaxConcurrent, model.FirstByteTimeout }),
            },
        };
        return File.WriteAllTextAsync(Path.Combine(contentRoot.FullName, "appsettings.json"), JsonSerializer.Serialize(settings), Token);
    }
}
