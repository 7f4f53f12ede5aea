using System.Diagnostics;
using Microsoft.Extensions.Configuration;

namespace LlmAspire.AppHost.Servers;

/// <summary>
/// Settles <see cref="ServerHosting"/> once per AppHost. Publishing always describes containers (a deployment runs
/// Aspire's images). A run uses containers only where they can work: DCP attaches every container to a bridge network
/// of its own, so an engine without bridge networking (or no engine) means local processes.
/// </summary>
internal static class ServerHostingChoice
{
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(5);

    public static ServerHosting Resolve(IDistributedApplicationBuilder builder, PlatformSettings settings)
    {
        if (builder.ExecutionContext.IsPublishMode)
        {
            return ServerHosting.Containers;
        }

        return settings.ServerHosting != ServerHosting.Auto ? settings.ServerHosting
            : ContainerRuntimeHasBridgeNetwork(builder.Configuration) ? ServerHosting.Containers
            : ServerHosting.LocalProcesses;
    }

    /// <summary>
    /// Whether the container CLI Aspire uses (docker unless ASPIRE_CONTAINER_RUNTIME says otherwise) reaches an engine
    /// that has a bridge network; the engine is the one DOCKER_HOST names in the AppHost's configuration, if it does.
    /// </summary>
    private static bool ContainerRuntimeHasBridgeNetwork(IConfiguration configuration)
    {
        var runtime = configuration["ASPIRE_CONTAINER_RUNTIME"] is { Length: > 0 } configured ? configured : "docker";
        var start = new ProcessStartInfo(runtime, ["network", "inspect", runtime == "podman" ? "podman" : "bridge"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        if (configuration["DOCKER_HOST"] is { Length: > 0 } dockerHost)
        {
            start.Environment["DOCKER_HOST"] = dockerHost;
        }

        try
        {
            using var probe = Process.Start(start)!;
            if (!probe.WaitForExit(ProbeTimeout))
            {
                probe.Kill(entireProcessTree: true);
                return false;
            }

            return probe.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            // No such CLI on this machine.
            return false;
        }
    }
}
