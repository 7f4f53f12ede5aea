using System.Globalization;
using System.Net.Sockets;
using Docker.DotNet.Models;
using LlmAspire.AppHost.Tests.Infrastructure;
using LlmAspire.Hosting;

namespace LlmAspire.AppHost.Tests;

/// <summary>
/// The container path of the AppHost's servers, in a private Docker engine (no image can be pulled here: the engine's
/// Redis image is built from this machine's redis-server).
/// </summary>
public sealed class ContainerResourceTests(RedisDockerEngine engine) : IClassFixture<RedisDockerEngine>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Redis_runs_as_a_container_on_loopback_answers_with_its_password_and_is_removed_at_stop()
    {
        var builder = DistributedApplication.CreateBuilder([]);
        builder.Configuration["DOCKER_HOST"] = engine.Endpoint.ToString();
        builder.AddRedis("cache");
        var app = builder.Build();
        var logs = app.ResourceLogs;
        int dockerCli;
        int port;
        await using (app)
        {
            await app.StartAsync(Cancellation);
            await app.ResourceNotifications.WaitForResourceHealthyAsync("cache", Cancellation).WaitAsync(Timeout, Cancellation);

            var snapshot = app.ResourceNotifications.Get("cache");
            Assert.Equal(("Redis", RedisDockerEngine.ImageReference), (snapshot.Type, snapshot.Image));
            dockerCli = snapshot.ProcessId!.Value;
            var container = Assert.Single(await ContainersAsync());
            var inspected = await engine.Client.Containers.InspectContainerAsync(container.ID, Cancellation);
            var image = await engine.Client.Images.InspectImageAsync(RedisDockerEngine.ImageReference, Cancellation);
            Assert.Equal(((bool?)true, image.ID, "host"), (inspected.State?.Running, inspected.Image, inspected.HostConfig?.NetworkMode));

            var connectionString = (await app.GetConnectionStringAsync("cache", Cancellation))!;
            var (host, password) = (connectionString.Split(',')[0], connectionString.Split(",password=")[1]);
            port = int.Parse(host.Split(':')[1], CultureInfo.InvariantCulture);
            Assert.Equal(["+OK", "+PONG"], await SendAsync(host, $"AUTH {password}", "PING"));
            Assert.StartsWith("-NOAUTH", Assert.Single(await SendAsync(host, "PING")), StringComparison.Ordinal);
            Assert.Equal(["127.0.0.1"], ListeningAddresses(port));

            await Eventually.TrueAsync(
                () => Task.FromResult(logs.GetBacklog("cache").Any(l => l.Line.Contains("Ready to accept connections", StringComparison.Ordinal))),
                Timeout, "the server's own output in the resource's logs");
        }

        // The server was asked to stop (the stop signal reached it), not killed after the stop timeout.
        Assert.Contains(logs.GetBacklog("cache"), l => l.Line.Contains("Redis is now ready to exit", StringComparison.Ordinal));
        Assert.Empty(await ContainersAsync());
        Assert.False(ProcessTree.IsRunning(dockerCli), "the docker CLI outlived the application");
        Assert.Empty(ListeningAddresses(port));
    }

    private async Task<IList<ContainerListResponse>> ContainersAsync() =>
        await engine.Client.Containers.ListContainersAsync(new ContainersListParameters { All = true }, Cancellation);

    /// <summary>Sends inline Redis commands and reads one reply line for each.</summary>
    private static async Task<List<string>> SendAsync(string hostAndPort, params string[] commands)
    {
        var (host, port) = (hostAndPort.Split(':')[0], int.Parse(hostAndPort.Split(':')[1], CultureInfo.InvariantCulture));
        using var client = new TcpClient();
        await client.ConnectAsync(host, port, Cancellation);
        var stream = client.GetStream();
        await using var writer = new StreamWriter(stream) { NewLine = "\r\n", AutoFlush = true };
        using var reader = new StreamReader(stream);
        var replies = new List<string>();
        foreach (var command in commands)
        {
            await writer.WriteLineAsync(command);
            replies.Add(await reader.ReadLineAsync(Cancellation) ?? "");
        }

        return replies;
    }

    /// <summary>The local addresses with a listening TCP socket on <paramref name="port"/> (IPv4 and IPv6), from /proc/net.</summary>
    private static List<string> ListeningAddresses(int port)
    {
        const string Listen = "0A";
        var hexPort = port.ToString("X4", CultureInfo.InvariantCulture);
        return [.. new[] { "/proc/net/tcp", "/proc/net/tcp6" }
            .SelectMany(File.ReadLines)
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(fields => fields[3] == Listen && fields[1].EndsWith(":" + hexPort, StringComparison.Ordinal))
            .Select(fields => AddressOf(fields[1].Split(':')[0]))];
    }

    /// <summary>/proc/net writes addresses as hexadecimal 32-bit words in host (little-endian) order.</summary>
    private static string AddressOf(string hex) => hex.Length == 8
        ? new System.Net.IPAddress(Convert.FromHexString(hex).Reverse().ToArray()).ToString()
        : new System.Net.IPAddress([.. Convert.FromHexString(hex).Chunk(4).SelectMany(word => word.Reverse())]).ToString();
}
