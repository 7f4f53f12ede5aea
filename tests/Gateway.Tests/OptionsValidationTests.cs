using System.Diagnostics;
using LlmAspire.Gateway.Tests.Infrastructure;
using Microsoft.Extensions.Options;

namespace LlmAspire.Gateway.Tests;

/// <summary>Invalid configuration stops start-up with a message naming the key, the value and what is allowed.</summary>
public sealed class OptionsValidationTests
{
    private static readonly Uri Upstream = new("http://127.0.0.1:9");

    [Theory]
    [InlineData("MaxConcurrent", "0", "allowed range 1 to 10000")]
    [InlineData("MaxConcurrent", "-4", "allowed range 1 to 10000")]
    [InlineData("MaxConcurrent", "lots", "allowed range 1 to 10000")]
    [InlineData("MaxConcurrent", "99999999999", "allowed range 1 to 10000")]
    [InlineData("MaxQueue", "-1", "allowed range 0 to 100000")]
    [InlineData("MaxQueue", "1e9", "allowed range 0 to 100000")]
    [InlineData("QueueTimeout", "banana", "allowed range 00:00:00.001 to 01:00:00")]
    [InlineData("QueueTimeout", "-00:00:05", "allowed range 00:00:00.001 to 01:00:00")]
    [InlineData("StreamIdleTimeout", "00:00:00", "allowed range 00:00:00.010 to 1.00:00:00")]
    [InlineData("RequestTimeout", "400.00:00:00", "allowed range 00:00:01 to 1.00:00:00")]
    [InlineData("ConnectTimeout", "", "allowed range 00:00:00.010 to 00:05:00")]
    [InlineData("Endpoint", "not a url", "expected an absolute URI")]
    [InlineData("MaxConcurent", "4", "is not a known setting")]
    public async Task Invalid_model_setting_refuses_to_start(string key, string value, string allowed)
    {
        await using var app = GatewayServer.Build(GatewayServer.ModelSettings("m", Upstream, (key, value)));

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync(TestContext.Current.CancellationToken));

        Assert.Contains($"Gateway:Models:m:{key}", error.Message, StringComparison.Ordinal);
        Assert.Contains($"Gateway__Models__m__{key}", error.Message, StringComparison.Ordinal);
        if (value.Length > 0)
        {
            Assert.Contains($"'{value}'", error.Message, StringComparison.Ordinal);
        }

        Assert.Contains(allowed, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Gateway:MaxRequestBodyBytes", "0", "allowed range 1024 to 268435456")]
    [InlineData("Gateway:Upstream:PooledConnectionIdleTimeout", "forever", "allowed range 00:00:00.100 to 01:00:00")]
    [InlineData("Gateway:Models:m:Endpoint", "ftp://127.0.0.1:21", "must be an http:// or https:// URL")]
    [InlineData("Gateway:Models:m:FirstByteTimeout", "02:00:00", "must not exceed it")]
    [InlineData("Gateway:Models:m:WhitespaceKeepAlive", "true", "applies only to a model ModelManager starts")]
    [InlineData("Gateway:ModelManager:EnsureTimeout", "0", "allowed range 00:00:01 to 1.00:00:00")]
    [InlineData("Gateway:ModelManager:LoadingKeepAliveInterval", "00:10:00", "allowed range 00:00:00.100 to 00:05:00")]
    [InlineData("Gateway:ModelManager:ActivityReportInterval", "-1", "allowed range 00:00:00.100 to 00:01:00")]
    [InlineData("Gateway:ModelManager:Token", "x", "is not a known setting")]
    [InlineData("Gateway:ShutdownGracePeriod", "forever", "allowed range 00:00:00 to 1.00:00:00")]
    [InlineData("Gateway:Auth:KeyLookupTimeout", "00:00:00", "allowed range 00:00:00.050 to 00:01:00")]
    [InlineData("Gateway:Auth:NewKeyLookupsPerSecond", "0", "allowed range 1 to 100000")]
    public async Task Invalid_gateway_setting_refuses_to_start(string key, string value, string allowed)
    {
        await using var app = GatewayServer.Build(GatewayServer.ModelSettings("m", Upstream).Append(KeyValuePair.Create(key, value))
            .GroupBy(setting => setting.Key).Select(group => group.Last()));

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync(TestContext.Current.CancellationToken));

        Assert.Contains(key, error.Message, StringComparison.Ordinal);
        Assert.Contains(value, error.Message, StringComparison.Ordinal);
        Assert.Contains(allowed, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ModelManager_without_its_token_refuses_to_start()
    {
        await using var app = GatewayServer.Build([KeyValuePair.Create("services:modelmanager:http:0", "http://127.0.0.1:9")]);

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync(TestContext.Current.CancellationToken));

        Assert.Contains("Gateway:ModelManager:ApiToken (environment Gateway__ModelManager__ApiToken) is required", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_model_without_an_endpoint_needs_ModelManager()
    {
        await using var app = GatewayServer.Build([KeyValuePair.Create("Gateway:Models:m:MaxQueue", "10")]);

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync(TestContext.Current.CancellationToken));

        Assert.Contains("Gateway:Models:m:Endpoint is required", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Defaults_start()
    {
        await using var gateway = await GatewayServer.StartAsync("m", Upstream);

        Assert.Equal(0, gateway.Queue("m").InFlight);
    }

    [Fact]
    public async Task The_gateway_process_exits_with_the_message_when_configuration_is_invalid()
    {
        var start = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "Gateway.Api.dll"), "--urls", "http://127.0.0.1:0"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["Gateway__Models__m__Endpoint"] = Upstream.ToString();
        start.Environment["Gateway__Models__m__MaxConcurrent"] = "0";

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var errors = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        await process.WaitForExitAsync(TestContext.Current.CancellationToken);

        Assert.NotEqual(0, process.ExitCode);
        Assert.Contains("Gateway:Models:m:MaxConcurrent (environment Gateway__Models__m__MaxConcurrent) = '0' is out of range; allowed range 1 to 10000", await output + await errors, StringComparison.Ordinal);
    }
}
