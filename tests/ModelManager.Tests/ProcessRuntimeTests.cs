using System.Diagnostics;
using System.Net;
using System.Text;
using LlmAspire.ModelManager.Tests.Infrastructure;
using LlmAspire.TestToolkit.Servers.Processes;

namespace LlmAspire.ModelManager.Tests;

/// <summary>The service over real HTTP, running the simulator as a local process.</summary>
public sealed class ProcessRuntimeTests : ProcessModelManagerTests
{
    private Task<ModelManagerHost> StartAsync(bool stopModelsOnShutdown = true, params IEnumerable<KeyValuePair<string, string>>[] catalog) =>
        Managers.StartAsync(stopModelsOnShutdown, catalog);

    [Fact]
    public async Task The_first_ensure_starts_the_server_it_answers_and_it_stops_after_its_idle_timeout()
    {
        var host = await StartAsync(catalog: TestCatalog.SimulatorProcess("sim", idleTimeout: "00:00:01"));

        var ensured = await host.EnsureAsync("sim");
        Assert.Equal("ready", (string?)ensured["state"]);
        Assert.Equal("process", (string?)ensured["runtime"]);
        Assert.True((double)ensured["lastColdStartSeconds"]! > 0);
        Assert.True((double)ensured["lastColdStartPhases"]!["loadSeconds"]! > 0);
        var endpoint = new Uri((string)ensured["endpoint"]!);
        Assert.Equal("127.0.0.1", endpoint.Host);
        var pid = Pid(ensured);

        var answer = await SimulatorCalls.CompleteAsync(endpoint, "sim");
        Assert.Contains("chat.completion", answer, StringComparison.Ordinal);

        await host.WaitForStateAsync("sim", "stopped");
        await Eventually.HoldsAsync(() => !ProcessTree.IsRunning(pid), "the server process has ended");
        Assert.Equal(["starting", "ready", "stopping", "stopped"], await host.EventsAsync("sim"));
        Assert.Empty(Managers.StateDirectory.EnumerateFiles("*.json"));
    }

    [Fact]
    public async Task A_stream_that_outlives_the_idle_timeout_is_never_cut_and_the_model_stops_only_after_it_ends()
    {
        var host = await StartAsync(catalog: TestCatalog.SimulatorProcess("sim", idleTimeout: "00:00:01"));
        var endpoint = new Uri((string)(await host.EnsureAsync("sim"))["endpoint"]!);

        await SimulatorCalls.StreamWhileReportingAsync(host, "sim", endpoint);
        await host.WaitForStateAsync("sim", "stopped");
    }

    [Fact]
    public async Task Fifty_concurrent_ensures_start_exactly_one_process()
    {
        var host = await StartAsync(catalog: TestCatalog.SimulatorProcess("sim", simulatorArgs: ["--startup-delay-ms", "500"]));

        var answers = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => host.EnsureAsync("sim")));

        Assert.Single(answers.Select(answer => (string?)answer["endpoint"]).Distinct());
        Assert.Single(answers.Select(answer => (string?)answer["instance"]).Distinct());
        Assert.Single(await host.EventsAsync("sim"), e => e == "starting");
        Assert.Single(Managers.StateDirectory.EnumerateFiles("*.json"));
    }

    [Fact]
    public async Task A_restarted_ModelManager_adopts_the_running_process_instead_of_starting_another()
    {
        var first = await StartAsync(stopModelsOnShutdown: false, TestCatalog.SimulatorProcess("sim"));
        var ensured = await first.EnsureAsync("sim");
        var endpoint = new Uri((string)ensured["endpoint"]!);
        var pid = Pid(ensured);
        await Managers.StopAsync(first);

        // ModelManager is down; the model keeps serving.
        Assert.True(ProcessTree.IsRunning(pid));
        Assert.Contains("chat.completion", await SimulatorCalls.CompleteAsync(endpoint, "sim"), StringComparison.Ordinal);

        var second = await StartAsync(catalog: TestCatalog.SimulatorProcess("sim"));
        await second.WaitForStateAsync("sim", "ready");
        var adopted = await second.EnsureAsync("sim");

        Assert.Equal(pid, Pid(adopted));
        Assert.Equal(endpoint.ToString(), (string?)adopted["endpoint"]);
        Assert.Equal(["adopted", "ready"], await second.EventsAsync("sim"));
        Assert.Contains("chat.completion", await SimulatorCalls.CompleteAsync(endpoint, "sim"), StringComparison.Ordinal);

        await Managers.StopAsync(second);
        await Eventually.HoldsAsync(() => !ProcessTree.IsRunning(pid), "the adopted process was stopped with its ModelManager");
    }

    [Fact]
    public async Task A_server_still_loading_when_ModelManager_restarts_is_adopted_and_waited_for()
    {
        var first = await StartAsync(stopModelsOnShutdown: false, TestCatalog.SimulatorProcess("sim", simulatorArgs: ["--startup-delay-ms", "3000"]));
        using (var loading = await first.Client.PostAsync("/api/models/sim/ensure?timeoutSeconds=0.5", null, Cancellation))
        {
            Assert.Equal(HttpStatusCode.GatewayTimeout, loading.StatusCode);
        }

        await Eventually.HoldsAsync(async () => (await first.GetAsync("sim"))["instance"] is not null, "the server process was launched");
        var pid = Pid(await first.GetAsync("sim"));
        Assert.Equal("starting", await first.StateAsync("sim"));
        await Managers.StopAsync(first);
        Assert.True(ProcessTree.IsRunning(pid));

        var second = await StartAsync(catalog: TestCatalog.SimulatorProcess("sim", simulatorArgs: ["--startup-delay-ms", "3000"]));
        var adopted = await second.EnsureAsync("sim");

        Assert.Equal(pid, Pid(adopted));
        Assert.Equal(["adopted", "ready"], await second.EventsAsync("sim"));
    }

    [Fact]
    public async Task A_process_killed_from_outside_is_noticed_and_started_again_by_the_next_ensure()
    {
        var host = await StartAsync(catalog: TestCatalog.SimulatorProcess("sim"));
        var pid = Pid(await host.EnsureAsync("sim"));

        using (var process = Process.GetProcessById(pid))
        {
            process.Kill();
        }

        await host.WaitForStateAsync("sim", "stopped");
        var crashed = await host.GetAsync("sim");
        Assert.Contains("exited on its own", (string?)crashed["lastError"], StringComparison.Ordinal);
        Assert.Contains("exited", await host.EventsAsync("sim"));

        var restarted = await host.EnsureAsync("sim");
        Assert.NotEqual(pid, Pid(restarted));
        Assert.Contains("chat.completion", await SimulatorCalls.CompleteAsync(new Uri((string)restarted["endpoint"]!), "sim"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_two_models_loaded_at_most_a_third_evicts_the_least_recently_used_idle_one()
    {
        var host = await StartAsync(catalog:
        [
            TestCatalog.Setting("MaxLoadedModels", "2"),
            // Everything here happens within a second: no grace for recently used models.
            TestCatalog.Setting("EvictionGracePeriod", "00:00:00"),
            .. TestCatalog.SimulatorProcess("a"),
            .. TestCatalog.SimulatorProcess("b"),
            .. TestCatalog.SimulatorProcess("c"),
        ]);
        var a = await host.EnsureAsync("a");
        await host.EnsureAsync("b");
        // "a" was used more recently than "b".
        await host.ReportAsync("gateway-1", "a", 0, 0);

        await host.EnsureAsync("c");

        Assert.Equal("stopped", await host.StateAsync("b"));
        Assert.Equal("ready", await host.StateAsync("a"));
        Assert.Equal("ready", await host.StateAsync("c"));
        Assert.Contains("evicted", await host.EventsAsync("b"));
        Assert.True(ProcessTree.IsRunning(Pid(a)));
    }

    [Fact]
    public async Task A_server_that_does_not_load_in_time_fails_with_the_tail_of_its_output_and_is_stopped()
    {
        // Long enough for the simulator to log that it is loading even on a busy machine.
        var host = await StartAsync(catalog: TestCatalog.SimulatorProcess("slow", startupTimeout: "00:00:05", simulatorArgs: ["--startup-delay-ms", "600000"]));

        var failed = await host.EnsureAsync("slow", HttpStatusCode.ServiceUnavailable);
        Assert.Equal("model_unavailable", (string?)failed["error"]!["code"]);

        var model = await host.GetAsync("slow");
        Assert.Equal("failed", (string?)model["state"]);
        var error = (string?)model["lastError"];
        Assert.Contains("StartupTimeout (00:00:05)", error, StringComparison.Ordinal);
        Assert.Contains("Last output:", error, StringComparison.Ordinal);
        Assert.Contains("Loading model(s) slow for 600000 ms", error, StringComparison.Ordinal);
        Assert.NotNull(model["retryAt"]);
        Assert.Empty(Managers.StateDirectory.EnumerateFiles("*.json"));
    }

    [Fact]
    public async Task A_server_that_exits_while_loading_fails_at_once_with_its_own_message()
    {
        var host = await StartAsync(catalog: TestCatalog.SimulatorProcess("broken", simulatorArgs: ["--max-concurrency", "0"]));

        await host.EnsureAsync("broken", HttpStatusCode.ServiceUnavailable);

        var error = (string?)(await host.GetAsync("broken"))["lastError"];
        Assert.Contains("exited while loading (exit code 2)", error, StringComparison.Ordinal);
        Assert.Contains("MaxConcurrency", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_command_that_does_not_exist_fails_with_the_shell_saying_so()
    {
        var host = await StartAsync(catalog: TestCatalog.Entry("missing", new() { ["Command"] = "/nonexistent/llm-server" }, ["--port", "{port}"]));

        await host.EnsureAsync("missing", HttpStatusCode.ServiceUnavailable);

        var error = (string?)(await host.GetAsync("missing"))["lastError"];
        Assert.Contains("/nonexistent/llm-server", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_working_directory_that_does_not_exist_fails_the_start_naming_it()
    {
        var host = await StartAsync(catalog: TestCatalog.Entry("lost", new() { ["Command"] = "dotnet", ["WorkingDirectory"] = "/nonexistent/llmaspire" }, ["x.dll"]));

        await host.EnsureAsync("lost", HttpStatusCode.ServiceUnavailable);

        Assert.Contains("/nonexistent/llmaspire", (string?)(await host.GetAsync("lost"))["lastError"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_server_gets_its_catalog_environment_but_not_ModelManagers_own_settings()
    {
        Environment.SetEnvironmentVariable("ConnectionStrings__llmaspiretest", "Password=secret");
        try
        {
            var host = await StartAsync(catalog: TestCatalog.Entry(
                "env",
                new() { ["Command"] = "/bin/sh", ["Environment:MODEL_SETTING"] = "from-catalog", ["Gpu"] = "device=3" },
                ["-c", "env | sort; exit 3"]));

            await host.EnsureAsync("env", HttpStatusCode.ServiceUnavailable);

            var output = (string?)(await host.GetAsync("env"))["lastError"];
            Assert.Contains("exit code 3", output, StringComparison.Ordinal);
            Assert.Contains("MODEL_SETTING=from-catalog", output, StringComparison.Ordinal);
            Assert.Contains("CUDA_VISIBLE_DEVICES=3", output, StringComparison.Ordinal);
            Assert.DoesNotContain("llmaspiretest", output, StringComparison.Ordinal);
        }
        finally
        {
            Environment.SetEnvironmentVariable("ConnectionStrings__llmaspiretest", null);
        }
    }
}
