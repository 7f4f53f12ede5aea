using System.Text.Json;
using System.Text.RegularExpressions;
using LlmAspire.ModelManager.Catalog;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace LlmAspire.ModelManager.Tests;

/// <summary>A bad catalog stops the service at start with messages that name the key; the documented examples are valid.</summary>
public sealed partial class OptionsValidationTests
{
    private static async Task<OptionsValidationException> StartFailsAsync(params string[] settings)
    {
        string[] args = ["--urls", "http://127.0.0.1:0", "--Logging:LogLevel:Default", "None", .. settings];
        await using var app = ModelManagerApplication.Create(args);
        return await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync(TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task A_missing_token_is_refused()
    {
        var refused = await StartFailsAsync("--ModelManager:Models:m:Command", "vllm");

        Assert.Contains(refused.Failures, f => f.Contains("ModelManager:ApiToken", StringComparison.Ordinal) && f.Contains("required", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Malformed_and_out_of_range_values_and_unknown_keys_are_named()
    {
        var refused = await StartFailsAsync(
            "--ModelManager:ApiToken", "t",
            "--ModelManager:MaxLoadedModels", "0",
            "--ModelManager:Models:typo:Command", "vllm",
            "--ModelManager:Models:typo:IdleTimeot", "00:01:00",
            "--ModelManager:Models:negative:Command", "vllm",
            "--ModelManager:Models:negative:IdleTimeout", "-00:00:01",
            "--ModelManager:Models:port:Command", "vllm",
            "--ModelManager:Models:port:Port", "http",
            "--ModelManager:Models:wrong-runtime:Runtime", "Kubernetes");

        AssertNamed(
            refused,
            "ModelManager:MaxLoadedModels",
            "ModelManager:Models:typo:IdleTimeot",
            "ModelManager:Models:negative:IdleTimeout",
            "ModelManager:Models:port:Port",
            "ModelManager:Models:wrong-runtime:Runtime");
    }

    [Fact]
    public async Task Catalog_entries_that_cannot_run_are_named()
    {
        var refused = await StartFailsAsync(
            "--ModelManager:ApiToken", "t",
            "--ModelManager:Models:no-image:Runtime", "Docker",
            "--ModelManager:Models:no-command:Runtime", "Process",
            "--ModelManager:Models:bad-gpu:Command", "vllm",
            "--ModelManager:Models:bad-gpu:Gpu", "lots",
            "--ModelManager:Models:counted-gpu:Command", "vllm",
            "--ModelManager:Models:counted-gpu:Gpu", "2",
            "--ModelManager:Models:bad-volume:Runtime", "Docker",
            "--ModelManager:Models:bad-volume:Image", "vllm/vllm-openai",
            "--ModelManager:Models:bad-volume:Volumes:0", "relative/path",
            "--ModelManager:Models:process-volume:Command", "vllm",
            "--ModelManager:Models:process-volume:Volumes:0", "/data:/data",
            "--ModelManager:Models:same-port-1:Command", "vllm",
            "--ModelManager:Models:same-port-1:Port", "8000",
            "--ModelManager:Models:same-port-2:Command", "vllm",
            "--ModelManager:Models:same-port-2:Port", "8000");

        AssertNamed(
            refused,
            "ModelManager:Models:no-image:Image is required",
            "ModelManager:Models:no-command:Command is required",
            "ModelManager:Models:bad-gpu:Gpu = 'lots'",
            "ModelManager:Models:counted-gpu:Gpu = '2'",
            "ModelManager:Models:bad-volume:Volumes entry 'relative/path'",
            "ModelManager:Models:process-volume:Volumes are only for the Docker runtime",
            "ModelManager:Models:same-port-1:Port = '8000'");
    }

    [Fact]
    public async Task Sleep_comes_before_the_stop_and_StopAfter_is_set_under_one_name_only()
    {
        var refused = await StartFailsAsync(
            "--ModelManager:ApiToken", "t",
            "--ModelManager:Models:after-default-stop:Command", "vllm",
            "--ModelManager:Models:after-default-stop:SleepAfter", "00:20:00",
            "--ModelManager:Models:with-the-stop:Command", "vllm",
            "--ModelManager:Models:with-the-stop:SleepAfter", "00:05:00",
            "--ModelManager:Models:with-the-stop:StopAfter", "00:05:00",
            "--ModelManager:Models:after-idle-timeout:Command", "vllm",
            "--ModelManager:Models:after-idle-timeout:SleepAfter", "00:05:00",
            "--ModelManager:Models:after-idle-timeout:IdleTimeout", "00:01:00",
            "--ModelManager:Models:both-names:Command", "vllm",
            "--ModelManager:Models:both-names:StopAfter", "00:05:00",
            "--ModelManager:Models:both-names:IdleTimeout", "00:10:00");

        AssertNamed(
            refused,
            "ModelManager:Models:after-default-stop:SleepAfter = '00:20:00' must be shorter than StopAfter (default) = '00:15:00'",
            "ModelManager:Models:with-the-stop:SleepAfter = '00:05:00' must be shorter than StopAfter = '00:05:00'",
            "ModelManager:Models:after-idle-timeout:SleepAfter = '00:05:00' must be shorter than IdleTimeout = '00:01:00'",
            "ModelManager:Models:both-names: StopAfter = '00:05:00' and IdleTimeout = '00:10:00' are the same setting");
    }

    [Fact]
    public async Task Sleep_and_abandoned_load_settings_are_checked_and_named_with_what_is_allowed()
    {
        var refused = await StartFailsAsync(
            "--ModelManager:ApiToken", "t",
            "--ModelManager:MaxSleepingModels", "0",
            "--ModelManager:Models:level:Command", "vllm",
            "--ModelManager:Models:level:SleepLevel", "3",
            "--ModelManager:Models:wake:Command", "vllm",
            "--ModelManager:Models:wake:WakeTimeout", "00:00:00",
            "--ModelManager:Models:policy:Command", "vllm",
            "--ModelManager:Models:policy:OnAbandonedLoad", "Later");

        AssertNamed(
            refused,
            "ModelManager:MaxSleepingModels (environment ModelManager__MaxSleepingModels) = '0' is out of range; allowed range 1 to 1000",
            "ModelManager:Models:level:SleepLevel (environment ModelManager__Models__level__SleepLevel) = '3' is out of range; allowed range 1 to 2",
            "ModelManager:Models:wake:WakeTimeout (environment ModelManager__Models__wake__WakeTimeout) = '00:00:00' is out of range",
            "ModelManager:Models:policy:OnAbandonedLoad (environment ModelManager__Models__policy__OnAbandonedLoad) = 'Later' is not a known value; allowed values Continue, Cancel");
    }

    [Fact]
    public async Task Lifecycle_event_storage_settings_are_checked_and_named_with_their_allowed_range()
    {
        var refused = await StartFailsAsync(
            "--ModelManager:ApiToken", "t",
            "--ModelManager:LifecycleEvents:BatchSize", "0",
            "--ModelManager:LifecycleEvents:MaxBufferedEvents", "lots",
            "--ModelManager:LifecycleEvents:FlushInterval", "-00:00:01",
            "--ModelManager:LifecycleEvents:RetryIntervall", "00:00:01");
        var refusedStorage = await StartFailsAsync("--ModelManager:ApiToken", "t", "--ModelManager:Storage:MigrationTimeout", "00:00:00");

        AssertNamed(
            refused,
            "ModelManager:LifecycleEvents:BatchSize (environment ModelManager__LifecycleEvents__BatchSize) = '0' is out of range; allowed range 1 to 10000",
            "ModelManager:LifecycleEvents:MaxBufferedEvents (environment ModelManager__LifecycleEvents__MaxBufferedEvents) = 'lots' is not an integer; allowed range 1 to 1000000",
            "ModelManager:LifecycleEvents:FlushInterval (environment ModelManager__LifecycleEvents__FlushInterval) = '-00:00:01' is out of range; allowed range 00:00:00 to 00:01:00",
            "ModelManager:LifecycleEvents:RetryIntervall (environment ModelManager__LifecycleEvents__RetryIntervall) = '00:00:01' is not a known setting");
        AssertNamed(
            refusedStorage,
            "ModelManager:Storage:MigrationTimeout (environment ModelManager__Storage__MigrationTimeout) = '00:00:00' is out of range; allowed range 00:00:01 to 01:00:00");
    }

    private static void AssertNamed(OptionsValidationException refused, params string[] expected)
    {
        foreach (var key in expected)
        {
            Assert.True(
                refused.Failures.Any(failure => failure.Contains(key, StringComparison.Ordinal)),
                $"No failure names '{key}'; failures:\n{string.Join("\n", refused.Failures)}");
        }
    }

    [Fact]
    public void Gpu_requests_parse_in_the_three_docker_forms()
    {
        Assert.True(GpuRequest.TryParse("all", out var all) && all!.All);
        Assert.True(GpuRequest.TryParse("2", out var count) && count!.Count == 2);
        Assert.True(GpuRequest.TryParse("0, 1", out var ids) && ids!.VisibleDevices == "0,1");
        Assert.True(GpuRequest.TryParse("device=1", out var one) && one!.VisibleDevices == "1" && one.Count == 0);
        Assert.True(GpuRequest.TryParse("GPU-3a1b2c3d-0000-1111-2222-333344445555", out var uuid) && uuid!.DeviceIds.Count == 1);
        Assert.True(GpuRequest.TryParse(null, out var none) && none is null);
        Assert.False(GpuRequest.TryParse("0", out _));
        Assert.False(GpuRequest.TryParse("a b", out _));
    }

    /// <summary>The catalog examples in docs/modelmanager.md (copied next to the tests) bind and validate as they are.</summary>
    [Fact]
    public void The_documented_catalog_examples_are_valid()
    {
        var markdown = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "docs", "modelmanager.md"));
        var examples = JsonBlock().Matches(markdown).Select(match => match.Groups[1].Value).Where(json => json.Contains("\"ModelManager\"", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(examples);

        foreach (var json in examples)
        {
            using var stream = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(json));
            var configuration = new ConfigurationBuilder().AddJsonStream(stream).Build();
            var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { Configuration = new ConfigurationManager() });
            builder.Configuration.AddConfiguration(configuration);
            builder.AddModelManager();
            using var provider = builder.Services.BuildServiceProvider();

            var options = provider.GetRequiredService<IOptions<ModelManagerOptions>>().Value;
            Assert.NotEmpty(options.Models);
        }

        var vllm = examples.Select(json => JsonDocument.Parse(json)).SelectMany(doc => doc.RootElement.GetProperty("ModelManager").GetProperty("Models").EnumerateObject())
            .Single(model => model.Value.TryGetProperty("Image", out var image) && image.GetString()!.StartsWith("vllm/vllm-openai", StringComparison.Ordinal));
        Assert.Equal("Docker", vllm.Value.GetProperty("Runtime").GetString());
        Assert.True(vllm.Value.TryGetProperty("Gpu", out _));
        Assert.True(vllm.Value.TryGetProperty("Volumes", out _));
    }

    [GeneratedRegex("```json\\s*\\n(.*?)\\n```", RegexOptions.Singleline)]
    private static partial Regex JsonBlock();
}
