using System.Globalization;
using System.Text.Json;
using Docker.DotNet;
using Docker.DotNet.Models;
using LlmAspire.ModelManager.Catalog;
using Microsoft.Extensions.Options;

namespace LlmAspire.ModelManager.Runtimes.Docker;

/// <summary>
/// Runs model servers as containers through the Docker Engine API. Every container carries labels naming its model,
/// its instance and the owning ModelManager, so that a restarted ModelManager adopts it instead of starting a second
/// one; GPUs are device requests (what <c>docker run --gpus</c> sends), model caches are volumes, and the server is
/// reached on a loopback port, either directly (host network) or published on 127.0.0.1 (bridge).
/// </summary>
internal sealed partial class DockerRuntime : IModelServerRuntime, IDisposable
{
    public const string ModelLabel = "llmaspire.model";
    public const string InstanceLabel = "llmaspire.instance";
    public const string ManagerLabel = "llmaspire.manager";
    public const string PortLabel = "llmaspire.port";

    private readonly ModelManagerOptions options;
    private readonly ILogger<DockerRuntime> logger;
    private readonly Lazy<DockerClient> client;

    public DockerRuntime(IOptions<ModelManagerOptions> options, ILogger<DockerRuntime> logger)
    {
        this.options = options.Value;
        this.logger = logger;
        // A malformed DOCKER_HOST must not keep ModelManager (and its process models) from starting: Docker starts then
        // fail, naming the endpoint they tried.
        EngineEndpoint = this.options.Docker.Endpoint
            ?? (Uri.TryCreate(Environment.GetEnvironmentVariable("DOCKER_HOST"), UriKind.Absolute, out var host) ? host : new Uri("unix:///var/run/docker.sock"));
        // No client-wide timeout: waiting for a container to exit lasts as long as the container runs. Every other call
        // carries its own limit (Docker:RequestTimeout, Docker:PullTimeout, the stop grace period).
        client = new Lazy<DockerClient>(() => new DockerClientBuilder().WithEndpoint(EngineEndpoint).WithTimeout(Timeout.InfiniteTimeSpan).Build());
    }

    public RuntimeKind Kind => RuntimeKind.Docker;

    public Uri EngineEndpoint { get; }

    private DockerClient Client => client.Value;

    public async Task<IModelServer?> FindRunningAsync(string modelId, CatalogModelOptions model, CancellationToken cancellationToken)
    {
        var containers = await CallAsync(
            token => Client.Containers.ListContainersAsync(new ContainersListParameters { All = true, Filters = LabelFilter(modelId) }, token),
            "list the model's containers", cancellationToken);

        var running = containers.Where(c => c.State == "running").OrderByDescending(c => c.Created).ToList();
        var keep = running.FirstOrDefault();
        foreach (var leftover in containers.Where(c => c != keep))
        {
            // Never two servers of one model: a second running one (which only a crash between create and record could
            // leave) is stopped; exited ones are removed.
            LogRemovingLeftover(logger, modelId, ShortId(leftover.ID), leftover.State);
            var server = new DockerModelServer(this, leftover.ID, ServerArguments.LoopbackEndpoint(1));
            await server.StopAsync(model.StopTimeout, cancellationToken);
            await server.DisposeAsync();
        }

        if (keep is null)
        {
            return null;
        }

        if (!keep.Labels.TryGetValue(PortLabel, out var portText) || !int.TryParse(portText, CultureInfo.InvariantCulture, out var port))
        {
            throw new ModelServerException($"Container {ShortId(keep.ID)} of model '{modelId}' has no valid '{PortLabel}' label.");
        }

        LogAdopting(logger, modelId, ShortId(keep.ID), port);
        return new DockerModelServer(this, keep.ID, ServerArguments.LoopbackEndpoint(port));
    }

    public async Task<IModelServer> StartAsync(string modelId, CatalogModelOptions model, CancellationToken cancellationToken)
    {
        var image = model.Image!;
        await EnsureImageAsync(modelId, image, model.Pull, cancellationToken);

        var port = model.Port != 0 ? model.Port : ServerArguments.FreeLoopbackPort();
        var listenPort = model.Network == DockerNetwork.Host ? port : model.ContainerPort;
        var instance = Guid.NewGuid().ToString("N")[..12];
        var portText = port.ToString(CultureInfo.InvariantCulture);
        var hostConfig = new HostConfig
        {
            NetworkMode = model.Network == DockerNetwork.Host ? "host" : "bridge",
            Binds = model.Volumes.Count > 0 ? [.. model.Volumes] : null!,
            DeviceRequests = DeviceRequests(model.Gpu)!,
            IpcMode = string.IsNullOrWhiteSpace(model.IpcMode) ? null! : model.IpcMode,
            ShmSize = model.ShmSizeMiB * 1024 * 1024,
            RestartPolicy = new RestartPolicy { Name = RestartPolicyKind.No },
        };
        var parameters = new CreateContainerParameters
        {
            Name = $"llmaspire-{ServerArguments.SafeName(modelId)}-{instance}",
            Image = image,
            Entrypoint = string.IsNullOrWhiteSpace(model.Command) ? null! : [model.Command],
            Cmd = model.Args.Count > 0 ? [.. model.Args.Select(argument => ServerArguments.Expand(argument, listenPort, modelId))] : null!,
            Env = [.. model.Environment.Select(entry => $"{entry.Key}={entry.Value}")],
            WorkingDir = string.IsNullOrWhiteSpace(model.WorkingDirectory) ? null! : model.WorkingDirectory,
            Labels = new Dictionary<string, string>
            {
                [ModelLabel] = modelId,
                [InstanceLabel] = instance,
                [ManagerLabel] = options.Name,
                [PortLabel] = portText,
            },
            HostConfig = hostConfig,
        };

        if (model.Network == DockerNetwork.Bridge)
        {
            var containerPort = $"{model.ContainerPort.ToString(CultureInfo.InvariantCulture)}/tcp";
            parameters.ExposedPorts = new Dictionary<string, EmptyStruct> { [containerPort] = default };
            hostConfig.PortBindings = new Dictionary<string, IList<PortBinding>>
            {
                [containerPort] = [new PortBinding { HostIP = "127.0.0.1", HostPort = portText }],
            };
        }

        var created = await CallAsync(token => Client.Containers.CreateContainerAsync(parameters, token), $"create a container from '{image}'", cancellationToken);
        try
        {
            await CallAsync(token => Client.Containers.StartContainerAsync(created.ID, new ContainerStartParameters(), token), "start the container", cancellationToken);
        }
        catch (ModelServerException)
        {
            await RemoveAsync(created.ID, CancellationToken.None);
            throw;
        }

        LogStarted(logger, modelId, ShortId(created.ID), image, port);
        return new DockerModelServer(this, created.ID, ServerArguments.LoopbackEndpoint(port));
    }

    public void Dispose()
    {
        if (client.IsValueCreated)
        {
            client.Value.Dispose();
        }
    }

    internal static string ShortId(string id) => id.Length > 12 ? id[..12] : id;

    /// <summary>One Engine API call under <c>Docker:RequestTimeout</c>, its failures turned into messages that say what was attempted.</summary>
    internal async Task<T> CallAsync<T>(Func<CancellationToken, Task<T>> call, string what, CancellationToken cancellationToken, TimeSpan? timeout = null)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout ?? options.Docker.RequestTimeout);
        try
        {
            return await call(limit.Token);
        }
        catch (DockerApiException exception)
        {
            throw new ModelServerException($"Docker could not {what}: {EngineMessage(exception)}", exception);
        }
        catch (OperationCanceledException exception) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ModelServerException($"Docker did not {what} within {timeout ?? options.Docker.RequestTimeout} (engine {EngineEndpoint}).", exception);
        }
        catch (Exception exception) when (exception is HttpRequestException or IOException or System.Net.Sockets.SocketException or TimeoutException)
        {
            throw new ModelServerException($"Docker engine at {EngineEndpoint} is not reachable to {what}: {exception.Message}", exception);
        }
    }

    internal Task CallAsync(Func<CancellationToken, Task> call, string what, CancellationToken cancellationToken, TimeSpan? timeout = null) =>
        CallAsync(async token =>
        {
            await call(token);
            return true;
        }, what, cancellationToken, timeout);

    internal async Task RemoveAsync(string id, CancellationToken cancellationToken)
    {
        try
        {
            await CallAsync(token => Client.Containers.RemoveContainerAsync(id, new ContainerRemoveParameters { Force = true }, token), "remove the container", cancellationToken);
        }
        catch (ModelServerException exception) when (exception.InnerException is DockerContainerNotFoundException
            || exception.Message.Contains("is already in progress", StringComparison.Ordinal))
        {
        }
    }

    internal DockerClient Engine => Client;

    internal static string EngineMessage(DockerApiException exception)
    {
        try
        {
            using var body = JsonDocument.Parse(exception.ResponseBody ?? "");
            if (body.RootElement.TryGetProperty("message", out var message) && message.GetString() is { } text)
            {
                return text;
            }
        }
        catch (JsonException)
        {
        }

        return string.IsNullOrWhiteSpace(exception.ResponseBody) ? exception.StatusCode.ToString() : exception.ResponseBody.Trim();
    }

    private Dictionary<string, IDictionary<string, bool>> LabelFilter(string modelId) => new()
    {
        ["label"] = new Dictionary<string, bool>
        {
            [$"{ModelLabel}={modelId}"] = true,
            [$"{ManagerLabel}={options.Name}"] = true,
        },
    };

    private static List<DeviceRequest>? DeviceRequests(string? gpu)
    {
        if (!GpuRequest.TryParse(gpu, out var request) || request is null)
        {
            return null;
        }

        return
        [
            new DeviceRequest
            {
                Driver = "nvidia",
                Count = request.All ? -1 : request.Count,
                DeviceIDs = request.DeviceIds.Count > 0 ? [.. request.DeviceIds] : null!,
                Capabilities = [["gpu"]],
            },
        ];
    }

    /// <summary>Pulls the image when the engine lacks it and the catalog allows it; a failed pull says why.</summary>
    private async Task EnsureImageAsync(string modelId, string image, PullPolicy pull, CancellationToken cancellationToken)
    {
        if (await HasImageAsync(image, cancellationToken))
        {
            return;
        }

        if (pull == PullPolicy.Never)
        {
            throw new ModelServerException($"Image '{image}' is not on the Docker engine and ModelManager:Models:{modelId}:Pull is Never.");
        }

        var (repository, tag) = SplitReference(image);
        var errors = new List<string>();
        LogPulling(logger, modelId, image);
        try
        {
            await CallAsync(
                token => Client.Images.CreateImageAsync(
                    new ImagesCreateParameters { FromImage = repository, Tag = tag },
                    null,
                    new SynchronousProgress<JSONMessage>(message =>
                    {
                        if (message.Error?.Message is { Length: > 0 } error)
                        {
                            errors.Add(error);
                        }
                    }),
                    token),
                $"pull '{image}'",
                cancellationToken,
                options.Docker.PullTimeout);
        }
        catch (ModelServerException exception)
        {
            throw new ModelServerException($"Image '{image}' is not on the Docker engine and pulling it failed: {exception.Message}", exception);
        }

        if (errors.Count > 0 || !await HasImageAsync(image, cancellationToken))
        {
            throw new ModelServerException($"Image '{image}' is not on the Docker engine and pulling it failed: {(errors.Count > 0 ? string.Join("; ", errors) : "the engine reported no error but has no such image")}");
        }
    }

    private async Task<bool> HasImageAsync(string image, CancellationToken cancellationToken)
    {
        try
        {
            await CallAsync(token => Client.Images.InspectImageAsync(image, token), $"inspect image '{image}'", cancellationToken);
            return true;
        }
        catch (ModelServerException exception) when (exception.InnerException is DockerImageNotFoundException
            || exception.InnerException is DockerApiException { StatusCode: System.Net.HttpStatusCode.NotFound })
        {
            return false;
        }
    }

    /// <summary><c>registry:5000/org/name:tag</c> → (<c>registry:5000/org/name</c>, <c>tag</c>); a digest stays in the repository part.</summary>
    internal static (string Repository, string Tag) SplitReference(string image)
    {
        if (image.Contains('@', StringComparison.Ordinal))
        {
            return (image, "");
        }

        var colon = image.LastIndexOf(':');
        return colon > image.LastIndexOf('/') ? (image[..colon], image[(colon + 1)..]) : (image, "latest");
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Started container {Container} for model {Model} from {Image}, reached on port {Port}")]
    private static partial void LogStarted(ILogger logger, string model, string container, string image, int port);

    [LoggerMessage(Level = LogLevel.Information, Message = "Adopting the running container {Container} of model {Model} (port {Port})")]
    private static partial void LogAdopting(ILogger logger, string model, string container, int port);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Removing leftover container {Container} of model {Model} (state {State})")]
    private static partial void LogRemovingLeftover(ILogger logger, string model, string container, string state);

    [LoggerMessage(Level = LogLevel.Information, Message = "Pulling image {Image} for model {Model}")]
    private static partial void LogPulling(ILogger logger, string model, string image);

    /// <summary>Reports on the calling thread: <see cref="Progress{T}"/> would post to the thread pool and lose ordering.</summary>
    private sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
