using System.Diagnostics;
using System.Text;
using LlmAspire.TestToolkit.Servers;

namespace LlmAspire.Bench.Infrastructure;

/// <summary>Starts the servers a scenario measures, from the Release builds in the repository, on free loopback ports.</summary>
internal sealed class Servers(string repositoryRoot, string workDirectory, CancellationToken cancellation)
{
    private static readonly Dictionary<string, string> QuietLogs = new() { ["Logging__LogLevel__Default"] = "Warning" };

    public string WorkDirectory { get; } = workDirectory;

    /// <summary>The simulator serving <paramref name="model"/>, with extra switches such as <c>--tokens-per-second</c>.</summary>
    public Task<ServerProcess> StartSimulatorAsync(string name, string model, params string[] switches)
    {
        var address = LoopbackAddress();
        return ServerProcess.StartAsync(name, "dotnet",
            [SimulatorDll, "--urls", address.ToString(), "--model", model, .. switches],
            address, "/health", WorkDirectory, QuietLogs, cancellation);
    }

    /// <summary>
    /// The gateway with each model routed to its server, admission limits far above the benchmark's load, and any
    /// further <paramref name="settings"/> (environment spelling, e.g. <c>ConnectionStrings__cache</c>).
    /// </summary>
    public Task<ServerProcess> StartGatewayAsync(IReadOnlyDictionary<string, Uri> models, IReadOnlyDictionary<string, string>? settings = null, string name = "gateway")
    {
        var address = LoopbackAddress();
        // The benchmark measures forwarding; API keys (on by default, and needing PostgreSQL) are turned off explicitly.
        // The runtime setting is the one the AppHost (and so the published manifest) gives the gateway.
        var environment = new Dictionary<string, string>(QuietLogs) { ["Gateway__Auth__Enabled"] = "false", ["DOTNET_TC_CallCountingDelayMs"] = "0" };
        foreach (var (model, endpoint) in models)
        {
            environment[$"Gateway__Models__{model}__Endpoint"] = endpoint.ToString();
            environment[$"Gateway__Models__{model}__MaxConcurrent"] = "512";
            environment[$"Gateway__Models__{model}__MaxQueue"] = "4096";
        }

        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            environment[key] = value;
        }

        return ServerProcess.StartAsync(name, "dotnet",
            [Dll("Gateway.Api", "Gateway.Api"), "--urls", address.ToString()],
            address, "/health", WorkDirectory, environment, cancellation);
    }

    /// <summary>ModelManager with its configuration as environment variables (catalog, token, intervals).</summary>
    public Task<ServerProcess> StartModelManagerAsync(IReadOnlyDictionary<string, string> settings)
    {
        var address = LoopbackAddress();
        var environment = new Dictionary<string, string>(QuietLogs);
        foreach (var (key, value) in settings)
        {
            environment[key] = value;
        }

        return ServerProcess.StartAsync("modelmanager", "dotnet",
            [Dll("ModelManager", "ModelManager"), "--urls", address.ToString()],
            address, "/health", WorkDirectory, environment, cancellation);
    }

    /// <summary>The simulator's assembly, for servers that ModelManager starts itself.</summary>
    public string SimulatorDll => Dll("tools/VllmSimulator", "VllmSimulator");

    /// <summary>A private redis-server without persistence (the tests' launcher), its output in the work directory.</summary>
    public async Task<RedisServer> StartRedisAsync()
    {
        var redis = await RedisServer.StartAsync(Path.Combine(WorkDirectory, "redis.log"));
        ServerProcess.ReportStarted("redis", redis.ProcessId, new Uri($"http://127.0.0.1:{redis.Port}"));
        return redis;
    }

    /// <summary>
    /// A private PostgreSQL cluster (the tests' launcher), its output in the work directory; the gateway uses its
    /// <c>postgres</c> database with the connection string production gets, without the tests' client timeouts.
    /// </summary>
    public async Task<(PostgresServer Server, string ConnectionString)> StartPostgresAsync()
    {
        // A stock server: the ledger's writes are measured with fsync on and the default connection limit.
        var postgres = await PostgresServer.StartAsync(new PostgresServerOptions
        {
            Settings = new Dictionary<string, string>(),
            LogFile = Path.Combine(WorkDirectory, "postgres.log"),
        });
        ServerProcess.ReportStarted("postgres", postgres.ProcessId, new Uri($"http://127.0.0.1:{postgres.Port}"));
        return (postgres, $"Host=127.0.0.1;Port={postgres.Port};Username=postgres;Database=postgres");
    }

    /// <summary>
    /// nginx as the reference proxy, one listener per upstream: HTTP/1.1 with upstream keep-alive, no buffering (so
    /// streams pass through as they come), no access log, connections never retired by request count.
    /// </summary>
    public async Task<(ServerProcess Process, IReadOnlyDictionary<string, Uri> Addresses)> StartNginxAsync(IReadOnlyDictionary<string, Uri> upstreams)
    {
        var directory = Path.Combine(WorkDirectory, "nginx");
        Directory.CreateDirectory(Path.Combine(directory, "logs"));
        var addresses = upstreams.Keys.ToDictionary(name => name, _ => LoopbackAddress());
        var config = new StringBuilder($$"""
            worker_processes 2;
            worker_rlimit_nofile 65536;
            error_log {{directory}}/logs/error.log warn;
            pid {{directory}}/nginx.pid;
            events { worker_connections 32768; }
            http {
              access_log off;
              keepalive_requests 1000000;
              client_body_temp_path {{directory}}/body;
              proxy_temp_path {{directory}}/proxy;
              fastcgi_temp_path {{directory}}/fastcgi;
              uwsgi_temp_path {{directory}}/uwsgi;
              scgi_temp_path {{directory}}/scgi;

            """);
        foreach (var (name, upstream) in upstreams)
        {
            config.Append($$"""
                  upstream {{name}} {
                    server {{upstream.Host}}:{{upstream.Port}};
                    keepalive 64;
                    keepalive_requests 1000000;
                  }
                  server {
                    listen {{addresses[name].Host}}:{{addresses[name].Port}};
                    location / {
                      proxy_pass http://{{name}};
                      proxy_http_version 1.1;
                      proxy_set_header Connection "";
                      proxy_buffering off;
                      proxy_read_timeout 1h;
                    }
                  }

                """);
        }

        config.Append("}\n");
        var configPath = Path.Combine(directory, "nginx.conf");
        await File.WriteAllTextAsync(configPath, config.ToString(), cancellation);

        var nginx = await ServerProcess.StartAsync("nginx", "nginx",
            ["-p", directory, "-c", configPath, "-g", "daemon off;"], addresses.Values.First(), "/health", WorkDirectory, null, cancellation);
        return (nginx, addresses);
    }

    /// <summary>
    /// A bare YARP forwarder (<c>tools/ReferenceForwarder</c>), one listener per upstream like nginx: the floor for any
    /// ASP.NET Core proxy on this machine, so the gateway's distance from it is what the gateway's own work costs.
    /// </summary>
    public async Task<(ServerProcess Process, IReadOnlyDictionary<string, Uri> Addresses)> StartReferenceForwarderAsync(IReadOnlyDictionary<string, Uri> upstreams)
    {
        var addresses = upstreams.Keys.ToDictionary(name => name, _ => LoopbackAddress());
        var routes = upstreams.SelectMany(entry => new[] { "--route", $"{addresses[entry.Key]}={entry.Value}" });
        var forwarder = await ServerProcess.StartAsync("yarp", "dotnet",
            [Dll("tools/ReferenceForwarder", "ReferenceForwarder"), .. routes], addresses.Values.First(), "/health", WorkDirectory, QuietLogs, cancellation);
        return (forwarder, addresses);
    }

    /// <summary>
    /// Portkey's open-source gateway as the peer gateway (<c>eng/peers/portkey</c>, installed from npm by
    /// <c>eng/bench.sh</c>), in production mode without its console UI, kept to 127.0.0.1 by the preload beside it.
    /// It is told each request's upstream in headers: see <see cref="PortkeyRoute"/>.
    /// </summary>
    public Task<ServerProcess> StartPortkeyAsync()
    {
        var peer = Path.Combine(repositoryRoot, "eng", "peers", "portkey");
        var entry = Path.Combine(peer, "node_modules", "@portkey-ai", "gateway", "build", "start-server.js");
        if (!File.Exists(entry))
        {
            throw new FileNotFoundException("Install the peer gateway first: npm ci --prefix eng/peers/portkey (eng/bench.sh does).", entry);
        }

        var address = LoopbackAddress();
        return ServerProcess.StartAsync("portkey", "node",
            ["--import", Path.Combine(peer, "loopback-only.mjs"), entry, $"--port={address.Port}", "--headless"],
            address, "/", WorkDirectory, new Dictionary<string, string> { ["NODE_ENV"] = "production" }, cancellation);
    }

    /// <summary>A chat-completions request through Portkey to an OpenAI-compatible <paramref name="upstream"/>.</summary>
    public static RequestTarget PortkeyRoute(ServerProcess portkey, Uri upstream) => new(
        new Uri(portkey.BaseAddress, "/v1/chat/completions"),
        [
            new("x-portkey-provider", "openai"),
            new("x-portkey-custom-host", new Uri(upstream, "/v1").ToString()),
            new("Authorization", "Bearer bench"),
        ]);

    /// <summary>The version of the peer gateway as installed, or "not installed".</summary>
    public static string PortkeyVersion(string repositoryRoot)
    {
        var manifest = Path.Combine(repositoryRoot, "eng", "peers", "portkey", "node_modules", "@portkey-ai", "gateway", "package.json");
        return File.Exists(manifest)
            ? "@portkey-ai/gateway " + System.Text.Json.JsonDocument.Parse(File.ReadAllText(manifest)).RootElement.GetProperty("version").GetString()
            : "not installed";
    }

    /// <summary>The first line a command prints (e.g. <c>nginx -v</c>), or "not found".</summary>
    public static string FirstLine(string fileName, params string[] arguments)
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo(fileName, arguments) { RedirectStandardOutput = true, RedirectStandardError = true })!;
            var error = process.StandardError.ReadToEndAsync();
            var text = process.StandardOutput.ReadToEnd() + error.Result;
            process.WaitForExit();
            return text.Trim().Split('\n')[0].Trim();
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "not found";
        }
    }

    private static Uri LoopbackAddress() => new($"http://127.0.0.1:{Loopback.FreePort()}");

    private string Dll(string project, string assembly)
    {
        var path = Path.Combine(repositoryRoot, project, "bin", "Release", "net10.0", assembly + ".dll");
        return File.Exists(path) ? path : throw new FileNotFoundException($"Build {project} in Release first (eng/bench.sh does).", path);
    }
}
