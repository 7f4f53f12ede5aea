using LlmAspire.Hosting;
using LlmAspire.Hosting.ApplicationModel;

namespace LlmAspire.AppHost.Platform;

/// <summary>ModelManager catalog entries that run tools/VllmSimulator as a local process: a model server without a GPU.</summary>
public static class SimulatedModels
{
    public const string DefaultModel = "simulated-llama";

    /// <summary>
    /// Adds <paramref name="model"/> to ModelManager's catalog, served by the simulator's built assembly with a
    /// 2-second load time (like a small model) and stopped after 15 idle minutes. Only when running locally: a
    /// deployment configures its own catalog.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithSimulatedModel<TSimulator>(this IResourceBuilder<ProjectResource> modelManager, string model)
        where TSimulator : IProjectMetadata, new()
    {
        var simulator = new TSimulator().TargetPath;
        var prefix = $"ModelManager__Models__{model}__";
        string[] arguments =
        [
            Path.GetFileName(simulator), "--urls", "http://127.0.0.1:{port}", "--model", "{model}",
            "--startup-delay-ms", "2000",
            "--output-tokens", "32", "--tokens-per-second", "100",
        ];
        return modelManager.WithEnvironment(context =>
        {
            if (context.Operation != DistributedApplicationOperation.Run)
            {
                return;
            }

            var variables = context.EnvironmentVariables;
            variables[prefix + "Runtime"] = "Process";
            variables[prefix + "Command"] = "dotnet";
            variables[prefix + "WorkingDirectory"] = Path.GetDirectoryName(simulator)!;
            for (var i = 0; i < arguments.Length; i++)
            {
                variables[$"{prefix}Args__{i}"] = arguments[i];
            }

            variables[prefix + "IdleTimeout"] = "00:15:00";
        });
    }
}
