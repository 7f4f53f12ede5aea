using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using LlmAspire.Bench.Infrastructure;
using static LlmAspire.Bench.Infrastructure.MarkdownTable;

namespace LlmAspire.Bench.Scenarios;

/// <summary>
/// A cold start through the whole platform: a streaming request for a stopped model arrives at the gateway, which has
/// ModelManager start the simulator as a process (pretending to load weights for <see cref="LoadDelayMs"/>) and
/// forwards the request once it is ready. Each start is split into request arrival → runtime start call → server
/// ready (ModelManager's readiness check passed) → first event at the client; the bar is the last part, the
/// platform's own share once the server is ready. The baseline is the same request to the warm model. Beside it, the
/// cheap idle tier: the same request for the model once it has fallen asleep (vLLM sleep mode, simulated wake-up of
/// <see cref="WakeDelayMs"/>), which ModelManager wakes instead of starting a server.
/// </summary>
internal sealed class ColdStart : IScenario
{
    private const string Model = "cold";
    private const string Token = "bench-token";
    private const int LoadDelayMs = 1_000;
    private const int WakeDelayMs = 100;
    private const double BarMs = 250;

    public string Title => "Cold start: request → runtime start → ready → first byte";

    public async Task<ScenarioResult> RunAsync(BenchContext context)
    {
        var servers = context.Servers;
        var prefix = $"ModelManager__Models__{Model}__";
        string[] simulatorArgs = [servers.SimulatorDll, "--urls", "http://127.0.0.1:{port}", "--model", "{model}", "--startup-delay-ms", $"{LoadDelayMs}", "--output-tokens", "16",
            "--enable-sleep-mode", "--wake-delay-ms", $"{WakeDelayMs}"];
        var managerSettings = new Dictionary<string, string>
        {
            ["ModelManager__ApiToken"] = Token,
            ["ModelManager__StopModelsOnShutdown"] = "true",
            ["ModelManager__Process__StateDirectory"] = Path.Combine(servers.WorkDirectory, "modelmanager-state"),
            // Asleep a second after the warm request; the reaper looks often enough not to add to that.
            ["ModelManager__IdleCheckInterval"] = "00:00:00.100",
            [prefix + "Runtime"] = "Process",
            [prefix + "Command"] = "dotnet",
            [prefix + "SleepAfter"] = "00:00:01",
            [prefix + "StopAfter"] = "01:00:00",
        };
        for (var i = 0; i < simulatorArgs.Length; i++)
        {
            managerSettings[$"{prefix}Args__{i}"] = simulatorArgs[i];
        }

        await using var manager = await servers.StartModelManagerAsync(managerSettings);
        await using var gateway = await servers.StartGatewayAsync(new Dictionary<string, Uri>(), new Dictionary<string, string>
        {
            ["services__modelmanager__http__0"] = manager.BaseAddress.ToString(),
            ["Gateway__ModelManager__ApiToken"] = Token,
        }, "gateway-cold-start");
        using var managerClient = new HttpClient { BaseAddress = manager.BaseAddress, Timeout = TimeSpan.FromMinutes(2) };
        managerClient.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = gateway.BaseAddress, Timeout = TimeSpan.FromMinutes(2) };

        var starts = context.Settings.Name == "quick" ? 2 : 8;
        var samples = new List<Sample>();
        var failed = 0;
        for (var i = 0; i < starts; i++)
        {
            context.Stopping.ThrowIfCancellationRequested();
            await StopAsync(managerClient, client, context.Stopping);
            var cold = await FirstEventAsync(client, context.Stopping);
            var model = JsonNode.Parse(await managerClient.GetStringAsync($"/api/models/{Model}", context.Stopping))!;
            var warm = await FirstEventAsync(client, context.Stopping);
            await WaitForStateAsync(client, "sleeping", context.Stopping);
            var woken = await FirstEventAsync(client, context.Stopping);
            if (cold is null || warm is null || woken is null || model["lastColdStartPhases"] is not { } phases)
            {
                failed++;
                continue;
            }

            var ready = DateTimeOffset.Parse((string)model["loadedSince"]!, System.Globalization.CultureInfo.InvariantCulture);
            var launchMs = (double)phases["launchSeconds"]! * 1000;
            var loadMs = (double)phases["loadSeconds"]! * 1000;
            var runtimeCalled = ready - TimeSpan.FromMilliseconds(launchMs + loadMs);
            samples.Add(new Sample(
                ArrivalToRuntimeCallMs: (runtimeCalled - cold.Value.Sent).TotalMilliseconds,
                LaunchMs: launchMs,
                LoadMs: loadMs,
                ReadyToFirstEventMs: (cold.Value.FirstEvent - ready).TotalMilliseconds,
                TotalMs: (cold.Value.FirstEvent - cold.Value.Sent).TotalMilliseconds,
                WarmFirstEventMs: (warm.Value.FirstEvent - warm.Value.Sent).TotalMilliseconds,
                WokenFirstEventMs: (woken.Value.FirstEvent - woken.Value.Sent).TotalMilliseconds));
            Console.WriteLine($"  cold start {i + 1}/{starts}: {samples[^1]}");
        }

        double Median(Func<Sample, double> part) => Distribution.Median(samples.Select(part));
        double Max(Func<Sample, double> part) => samples.Count == 0 ? double.NaN : samples.Max(part);
        var table = new MarkdownTable("phase", "median ms", "max ms")
            .Add("request arrival → runtime start call", Ms(Median(s => s.ArrivalToRuntimeCallMs)), Ms(Max(s => s.ArrivalToRuntimeCallMs)))
            .Add("runtime start call → process started (launch)", Ms(Median(s => s.LaunchMs)), Ms(Max(s => s.LaunchMs)))
            .Add($"process started → server ready (load, {LoadDelayMs} ms simulated)", Ms(Median(s => s.LoadMs)), Ms(Max(s => s.LoadMs)))
            .Add("**server ready → first event at the client**", Ms(Median(s => s.ReadyToFirstEventMs)), Ms(Max(s => s.ReadyToFirstEventMs)))
            .Add("total: request → first event", Ms(Median(s => s.TotalMs)), Ms(Max(s => s.TotalMs)))
            .Add("baseline: same request, model warm → first event", Ms(Median(s => s.WarmFirstEventMs)), Ms(Max(s => s.WarmFirstEventMs)));

        var wakeTable = new MarkdownTable("request → first event", "median ms", "max ms")
            .Add("cold start (stopped model)", Ms(Median(s => s.TotalMs)), Ms(Max(s => s.TotalMs)))
            .Add($"wake from sleep (sleeping model, {WakeDelayMs} ms simulated wake-up)", Ms(Median(s => s.WokenFirstEventMs)), Ms(Max(s => s.WokenFirstEventMs)))
            .Add("warm (ready model)", Ms(Median(s => s.WarmFirstEventMs)), Ms(Max(s => s.WarmFirstEventMs)));

        var readyToFirst = Median(s => s.ReadyToFirstEventMs);
        var text = new StringBuilder();
        text.AppendLine($"ModelManager (process runtime, readiness polled every 100 ms) and the gateway (`services__modelmanager__http__0`),");
        text.AppendLine($"{samples.Count} cold starts of a simulator that takes {LoadDelayMs} ms to \"load weights\" before it answers `/health`.");
        text.AppendLine("Each start: stop the model through ModelManager's API, wait until the gateway's `/v1/models` lists it as stopped,");
        text.AppendLine("send one streaming chat request to the gateway and time the first `data:` event; then the same request warm.");
        text.AppendLine("\"Server ready\" is ModelManager's `loadedSince` (its readiness check passed); the phases come from");
        text.AppendLine("`lastColdStartPhases`. Ready → first event covers ModelManager answering `ensure`, the gateway routing and");
        text.AppendLine("forwarding, and the freshly started server's first request.");
        text.AppendLine();
        text.Append(table);
        text.AppendLine();
        text.Append(new MarkdownTable("ratio", "value")
            .Add("ready → first event (cold) / first event (warm), medians", Ratio(readyToFirst / Median(s => s.WarmFirstEventMs))));
        text.AppendLine();
        text.AppendLine("The cheap idle tier: after the warm request the model falls asleep (`SleepAfter` 1 s, the simulator's vLLM sleep");
        text.AppendLine("mode); the same request then has ModelManager wake the same server instead of starting one.");
        text.AppendLine();
        text.Append(wakeTable);
        text.AppendLine();
        text.AppendLine($"Measured: {starts} cold starts and wake-ups; {failed} failed.");

        Bar[] bars =
        [
            new($"the platform adds at most {BarMs:F0} ms between the server becoming ready and the first byte at the client",
                $"median {Ms(readyToFirst)} ms, max {Ms(Max(s => s.ReadyToFirstEventMs))} ms", readyToFirst <= BarMs),
        ];
        return new ScenarioResult(text.ToString(), bars, failed);
    }

    private static string Ms(double value) => double.IsFinite(value) ? value.ToString("F0", System.Globalization.CultureInfo.InvariantCulture) : "—";

    /// <summary>Stops the model and waits until the gateway has heard of it, so the next request takes the cold path.</summary>
    private static async Task StopAsync(HttpClient manager, HttpClient gateway, CancellationToken cancellation)
    {
        using (var stop = await manager.PostAsync($"/api/models/{Model}/stop?force=true", null, cancellation))
        {
            stop.EnsureSuccessStatusCode();
        }

        await WaitForStateAsync(gateway, "stopped", cancellation);
    }

    /// <summary>Waits until the gateway's <c>/v1/models</c> lists the model in <paramref name="state"/>.</summary>
    private static async Task WaitForStateAsync(HttpClient gateway, string state, CancellationToken cancellation)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var models = JsonNode.Parse(await gateway.GetStringAsync("/v1/models", cancellation))!["data"]!.AsArray();
            if (models.Any(model => (string?)model!["id"] == Model && (string?)model["state"] == state))
            {
                return;
            }

            if (deadline.Elapsed > TimeSpan.FromSeconds(30))
            {
                throw new TimeoutException($"The gateway still does not list {Model} as {state}.");
            }

            await Task.Delay(20, cancellation);
        }
    }

    /// <summary>Sends one streaming chat request; returns when it was sent and when its first <c>data:</c> event arrived.</summary>
    private static async Task<(DateTimeOffset Sent, DateTimeOffset FirstEvent)?> FirstEventAsync(HttpClient gateway, CancellationToken cancellation)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = new ByteArrayContent(RequestComparison.ChatBody(Model, ",\"stream\":true")) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } },
        };
        var sent = DateTimeOffset.UtcNow;
        using var response = await gateway.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellation);
        if (!response.IsSuccessStatusCode)
        {
            return null;
        }

        await using var stream = await response.Content.ReadAsStreamAsync(cancellation);
        var seen = new StringBuilder();
        var buffer = new byte[8192];
        DateTimeOffset? first = null;
        int read;
        while ((read = await stream.ReadAsync(buffer, cancellation)) > 0)
        {
            seen.Append(Encoding.UTF8.GetString(buffer, 0, read));
            if (first is null && IsFirstEventIn(seen.ToString()))
            {
                first = DateTimeOffset.UtcNow;
            }
        }

        return first is { } at && !seen.ToString().Contains("\"error\"", StringComparison.Ordinal) ? (sent, at) : null;

        // The gateway's ": loading" comment lines come first; the model's output starts with the first data line.
        static bool IsFirstEventIn(string text) => text.StartsWith("data: ", StringComparison.Ordinal) || text.Contains("\ndata: ", StringComparison.Ordinal);
    }

    private sealed record Sample(
        double ArrivalToRuntimeCallMs, double LaunchMs, double LoadMs, double ReadyToFirstEventMs, double TotalMs, double WarmFirstEventMs, double WokenFirstEventMs);
}
