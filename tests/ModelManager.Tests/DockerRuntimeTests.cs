using System.Net;
using System.Text;
using Docker.DotNet.Models;
using LlmAspire.ModelManager.Runtimes.Docker;
using LlmAspire.ModelManager.Tests.Infrastructure;

namespace LlmAspire.ModelManager.Tests;

/// <summary>The service over real HTTP, running the simulator in containers of a private Docker engine.</summary>
[Collection(DockerCollection.Name)]
public sealed class DockerRuntimeTests(SimulatorDockerEngine engine) : IAsyncLifetime
{
    private readonly string name = $"test-{Guid.NewGuid():N}"[..16];
    private readonly List<ModelManagerHost> hosts = [];
    private readonly DirectoryInfo cache = Directory.CreateTempSubdirectory("llmaspire-mm-cache-");

    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        foreach (var host in hosts)
        {
            await host.DisposeAsync();
        }

        foreach (var container in await engine.ContainersAsync(name))
        {
            await engine.Client.Containers.RemoveContainerAsync(container.ID, new ContainerRemoveParameters { Force = true }, CancellationToken.None);
        }

        cache.Delete(recursive: true);
    }

    private IEnumerable<KeyValuePair<string, string>> Simulator(
        string id, string idleTimeout = "00:10:00", string startupTimeout = "00:01:00", Dictionary<string, string>? extra = null, params string[] simulatorArgs)
    {
        var values = new Dictionary<string, string>
        {
            ["Runtime"] = "Docker",
            ["Image"] = SimulatorDockerEngine.ImageTag,
            ["Pull"] = "Never",
            ["Command"] = SimulatorDockerEngine.DotnetHost,
            ["IdleTimeout"] = idleTimeout,
            ["StartupTimeout"] = startupTimeout,
            ["StopTimeout"] = "00:00:05",
            ["WorkingDirectory"] = "/sim",
        };
        foreach (var (key, value) in extra ?? [])
        {
            values[key] = value;
        }

        return TestCatalog.Entry(id, values, ["VllmSimulator.dll", "--urls", "http://127.0.0.1:{port}", "--model", "{model}", .. simulatorArgs]);
    }

    /// <summary>Starts a simulator container with this ModelManager's labels, as a previous ModelManager would have.</summary>
    private async Task<(string Id, int Port)> RunLabelledSimulatorAsync(string model, params string[] simulatorArgs)
    {
        var port = Runtimes.ServerArguments.FreeLoopbackPort();
        var portText = port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var created = await engine.Client.Containers.CreateContainerAsync(
            new CreateContainerParameters
            {
                Image = SimulatorDockerEngine.ImageTag,
                Entrypoint = [SimulatorDockerEngine.DotnetHost],
                Cmd = ["VllmSimulator.dll", "--urls", $"http://127.0.0.1:{portText}", "--model", model, .. simulatorArgs],
                Labels = new Dictionary<string, string>
                {
                    [DockerRuntime.ModelLabel] = model,
                    [DockerRuntime.InstanceLabel] = Guid.NewGuid().ToString("N")[..12],
                    [DockerRuntime.ManagerLabel] = name,
                    [DockerRuntime.PortLabel] = portText,
                },
                HostConfig = new HostConfig { NetworkMode = "host" },
            },
            Cancellation);
        await engine.Client.Containers.StartContainerAsync(created.ID, new ContainerStartParameters(), Cancellation);
        return (created.ID, port);
    }

    private async Task<ModelManagerHost> StartAsync(bool stopModelsOnShutdown = true, params IEnumerable<KeyValuePair<string, string>>[] catalog)
    {
        var host = await ModelManagerHost.StartAsync(
        [
            TestCatalog.Setting("Name", name),
            TestCatalog.Setting("Docker:Endpoint", engine.Endpoint.ToString()),
            TestCatalog.Setting("StopModelsOnShutdown", stopModelsOnShutdown ? "true" : "false"),
            .. catalog.SelectMany(entry => entry),
        ]);
        hosts.Add(host);
        return host;
    }

    [Fact]
    public async Task Through_the_gateway_a_first_request_starts_a_container_and_one_killed_from_outside_is_replaced_by_the_next_request()
    {
        var host = await StartAsync(catalog: Simulator("sim"));
        await using var gateway = await host.StartGatewayAsync();
        using var client = new HttpClient { BaseAddress = new Uri(gateway.Urls.First()), Timeout = TimeSpan.FromMinutes(2) };

        Assert.Contains("chat.completion", await CompleteThroughAsync(client), StringComparison.Ordinal);
        var first = Assert.Single(await engine.ContainersAsync(name));
        await engine.Client.Containers.KillContainerAsync(first.ID, new ContainerKillParameters(), Cancellation);

        Assert.Contains("chat.completion", await CompleteThroughAsync(client), StringComparison.Ordinal);
        var running = (await engine.ContainersAsync(name)).Where(container => container.State == "running").ToList();
        Assert.NotEqual(first.ID, Assert.Single(running).ID);
        Assert.Equal(2, (await host.EventsAsync("sim")).Count(e => e == "starting"));
        await gateway.StopAsync(CancellationToken.None);
    }

    private static async Task<string> CompleteThroughAsync(HttpClient gateway)
    {
        using var response = await gateway.PostAsync("/v1/chat/completions", new StringContent(
            """{"model":"sim","messages":[{"role":"user","content":"Hello"}]}""", Encoding.UTF8, "application/json"), Cancellation);
        var body = await response.Content.ReadAsStringAsync(Cancellation);
        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        return body;
    }

    [Fact]
    public async Task The_first_ensure_starts_one_labelled_container_that_answers_and_it_is_removed_when_idle()
    {
        var host = await StartAsync(catalog: Simulator("sim", idleTimeout: "00:00:01", extra: new()
        {
            ["Volumes:0"] = $"{cache.FullName}:/cache:ro",
            ["Environment:HF_HOME"] = "/cache",
        }));

        var ensured = await host.EnsureAsync("sim");
        // Keep it busy while the container is inspected, as a gateway streaming from it would.
        await host.ReportAsync("gateway-1", "sim", 1, 0);
        Assert.Equal("ready", (string?)ensured["state"]);
        Assert.Equal("docker", (string?)ensured["runtime"]);
        var endpoint = new Uri((string)ensured["endpoint"]!);
        Assert.Equal("127.0.0.1", endpoint.Host);
        Assert.Contains("chat.completion", await SimulatorCalls.CompleteAsync(endpoint, "sim"), StringComparison.Ordinal);

        var container = Assert.Single(await engine.ContainersAsync(name));
        Assert.StartsWith((string)ensured["instance"]!, container.ID, StringComparison.Ordinal);
        Assert.Equal("sim", container.Labels[DockerRuntime.ModelLabel]);
        Assert.Equal(name, container.Labels[DockerRuntime.ManagerLabel]);
        Assert.Equal(endpoint.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), container.Labels[DockerRuntime.PortLabel]);
        Assert.Equal(12, container.Labels[DockerRuntime.InstanceLabel].Length);
        var inspected = await engine.Client.Containers.InspectContainerAsync(container.ID, Cancellation);
        Assert.Equal("host", inspected.HostConfig?.NetworkMode);
        Assert.Contains(inspected.Mounts, mount => mount.Destination == "/cache" && !mount.RW);
        Assert.Contains("HF_HOME=/cache", inspected.Config?.Env ?? []);

        await host.ReportAsync("gateway-1", "sim", 0, 0);
        await host.WaitForStateAsync("sim", "stopped");
        await Eventually.HoldsAsync(async () => (await engine.ContainersAsync(name)).Count == 0, "the stopped container was removed");
    }

    [Fact]
    public async Task A_stream_that_outlives_the_idle_timeout_is_never_cut_and_the_container_stops_only_after_it_ends()
    {
        var host = await StartAsync(catalog: Simulator("sim", idleTimeout: "00:00:01"));
        var endpoint = new Uri((string)(await host.EnsureAsync("sim"))["endpoint"]!);

        await SimulatorCalls.StreamWhileReportingAsync(host, "sim", endpoint);

        await host.WaitForStateAsync("sim", "stopped");
        await Eventually.HoldsAsync(async () => (await engine.ContainersAsync(name)).Count == 0, "the stopped container was removed");
    }

    [Fact]
    public async Task With_two_models_loaded_at_most_a_third_evicts_the_least_recently_used_idle_container()
    {
        var host = await StartAsync(catalog:
        [
            TestCatalog.Setting("MaxLoadedModels", "2"),
            TestCatalog.Setting("EvictionGracePeriod", "00:00:00"),
            .. Simulator("a"),
            .. Simulator("b"),
            .. Simulator("c"),
        ]);
        var a = await host.EnsureAsync("a");
        var b = await host.EnsureAsync("b");
        await host.ReportAsync("gateway-1", "a", 0, 0);

        await host.EnsureAsync("c");

        Assert.Equal("stopped", await host.StateAsync("b"));
        Assert.Equal("ready", await host.StateAsync("a"));
        Assert.Equal("ready", await host.StateAsync("c"));
        var containers = await engine.ContainersAsync(name);
        Assert.Equal(["a", "c"], containers.Select(c => c.Labels[DockerRuntime.ModelLabel]).Order());
        Assert.DoesNotContain(containers, c => c.ID.StartsWith((string)b["instance"]!, StringComparison.Ordinal));
        Assert.Contains(containers, c => c.ID.StartsWith((string)a["instance"]!, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Fifty_concurrent_ensures_start_exactly_one_container()
    {
        var host = await StartAsync(catalog: Simulator("sim", simulatorArgs: ["--startup-delay-ms", "500"]));

        var answers = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => host.EnsureAsync("sim")));

        Assert.Single(answers.Select(answer => (string?)answer["instance"]).Distinct());
        Assert.Single(await engine.ContainersAsync(name));
        Assert.Single(await host.EventsAsync("sim"), e => e == "starting");
    }

    [Fact]
    public async Task A_restarted_ModelManager_adopts_the_running_container_instead_of_starting_another()
    {
        var first = await StartAsync(stopModelsOnShutdown: false, Simulator("sim"));
        var ensured = await first.EnsureAsync("sim");
        var endpoint = new Uri((string)ensured["endpoint"]!);
        hosts.Remove(first);
        await first.DisposeAsync();

        Assert.Single(await engine.ContainersAsync(name));
        Assert.Contains("chat.completion", await SimulatorCalls.CompleteAsync(endpoint, "sim"), StringComparison.Ordinal);

        var second = await StartAsync(catalog: Simulator("sim"));
        await second.WaitForStateAsync("sim", "ready");
        var adopted = await second.EnsureAsync("sim");

        Assert.Equal((string?)ensured["instance"], (string?)adopted["instance"]);
        Assert.Equal(endpoint.ToString(), (string?)adopted["endpoint"]);
        Assert.Single(await engine.ContainersAsync(name));
        Assert.Equal(["adopted", "ready"], await second.EventsAsync("sim"));
        Assert.Contains("chat.completion", await SimulatorCalls.CompleteAsync(endpoint, "sim"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Leftover_containers_are_cleaned_up_and_only_the_newest_running_one_is_adopted()
    {
        // What a crash at the wrong moment could leave: an exited container and two running ones for one model.
        var exited = await RunLabelledSimulatorAsync("sim", ["--max-concurrency", "0"]);
        await Eventually.HoldsAsync(
            async () => (await engine.Client.Containers.InspectContainerAsync(exited.Id, Cancellation)).State?.Running == false, "the broken container exited");
        var older = await RunLabelledSimulatorAsync("sim");
        var newer = await RunLabelledSimulatorAsync("sim");

        var host = await StartAsync(catalog: Simulator("sim"));
        await host.WaitForStateAsync("sim", "ready");

        var adopted = await host.EnsureAsync("sim");
        Assert.StartsWith((string)adopted["instance"]!, newer.Id, StringComparison.Ordinal);
        Assert.Equal(newer.Port, new Uri((string)adopted["endpoint"]!).Port);
        var left = Assert.Single(await engine.ContainersAsync(name));
        Assert.Equal(newer.Id, left.ID);
        Assert.DoesNotContain(older.Id, (await engine.ContainersAsync(name)).Select(c => c.ID));
    }

    [Fact]
    public async Task A_container_killed_from_outside_is_noticed_and_started_again_by_the_next_ensure()
    {
        var host = await StartAsync(catalog: Simulator("sim"));
        var first = (string)(await host.EnsureAsync("sim"))["instance"]!;

        await engine.Client.Containers.KillContainerAsync(first, new ContainerKillParameters { Signal = "KILL" }, Cancellation);

        await host.WaitForStateAsync("sim", "stopped");
        var error = (string?)(await host.GetAsync("sim"))["lastError"];
        Assert.Contains("exited on its own (exit code 137", error, StringComparison.Ordinal);
        Assert.Contains("Last output:", error, StringComparison.Ordinal);

        var restarted = await host.EnsureAsync("sim");
        Assert.NotEqual(first, (string?)restarted["instance"]);
        Assert.Contains("chat.completion", await SimulatorCalls.CompleteAsync(new Uri((string)restarted["endpoint"]!), "sim"), StringComparison.Ordinal);
        var container = Assert.Single(await engine.ContainersAsync(name));
        Assert.Equal("running", container.State);
    }

    [Fact]
    public async Task A_container_that_does_not_load_in_time_fails_with_its_log_tail_and_is_removed()
    {
        var host = await StartAsync(catalog: Simulator("slow", startupTimeout: "00:00:05", simulatorArgs: ["--startup-delay-ms", "600000"]));

        await host.EnsureAsync("slow", HttpStatusCode.ServiceUnavailable);

        var error = (string?)(await host.GetAsync("slow"))["lastError"];
        Assert.Contains("StartupTimeout (00:00:05)", error, StringComparison.Ordinal);
        Assert.Contains("Loading model(s) slow for 600000 ms", error, StringComparison.Ordinal);
        await Eventually.HoldsAsync(async () => (await engine.ContainersAsync(name)).Count == 0, "the failed container was removed");
    }

    [Fact]
    public async Task A_missing_image_is_pulled_and_an_unreachable_registry_is_a_clear_failure()
    {
        // The registry is a closed loopback port: nothing leaves the machine.
        var host = await StartAsync(catalog:
        [
            .. Simulator("absent", extra: new() { ["Image"] = "127.0.0.1:9/llmaspire/absent:1", ["Pull"] = "Missing" }),
            .. Simulator("never", extra: new() { ["Image"] = "127.0.0.1:9/llmaspire/absent:1", ["Pull"] = "Never" }),
        ]);

        await host.EnsureAsync("absent", HttpStatusCode.ServiceUnavailable);
        await host.EnsureAsync("never", HttpStatusCode.ServiceUnavailable);

        var pulled = (string?)(await host.GetAsync("absent"))["lastError"];
        Assert.Contains("Image '127.0.0.1:9/llmaspire/absent:1' is not on the Docker engine and pulling it failed", pulled, StringComparison.Ordinal);
        var never = (string?)(await host.GetAsync("never"))["lastError"];
        Assert.Contains("Pull is Never", never, StringComparison.Ordinal);
        Assert.Empty(await engine.ContainersAsync(name));
    }

    [Fact]
    public async Task A_gpu_request_reaches_the_engine_as_a_device_request()
    {
        // This engine has no NVIDIA runtime, so the request it receives is refused with the engine's own words.
        var host = await StartAsync(catalog: Simulator("gpu", extra: new() { ["Gpu"] = "all" }));

        await host.EnsureAsync("gpu", HttpStatusCode.ServiceUnavailable);

        var error = (string?)(await host.GetAsync("gpu"))["lastError"];
        Assert.Contains("could not select device driver \"nvidia\"", error, StringComparison.Ordinal);
        Assert.Empty(await engine.ContainersAsync(name));
    }
}
