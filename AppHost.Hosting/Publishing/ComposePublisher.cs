using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using LlmAspire.Hosting.ApplicationModel;
using LlmAspire.Hosting.Orchestration;

namespace LlmAspire.Hosting.Publishing;

/// <summary>
/// Writes a docker-compose file: containers as they are, projects as images built from them
/// (<c>dotnet publish -t:PublishContainer</c>), endpoints as service names, parameters as variables from <c>.env</c>
/// (written beside it with empty values when missing), plus a GPU-profile vLLM model server example.
/// </summary>
public static class ComposePublisher
{
    /// <summary>Where a project's HTTP endpoint listens inside its container (the .NET images' default).</summary>
    public const int ProjectContainerPort = 8080;

    private static readonly JsonSerializerOptions Quoting = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static async Task WriteAsync(DistributedApplicationModel model, string outputPath, CancellationToken cancellationToken)
    {
        await File.WriteAllTextAsync(outputPath, Render(model), cancellationToken);
        var environmentFile = Path.Combine(Path.GetDirectoryName(outputPath)!, ".env");
        if (!File.Exists(environmentFile))
        {
            var lines = model.Resources.OfType<ParameterResource>()
                .Select(p => $"# {p.Name}{(p.Secret ? " (secret)" : "")}{(p.Generate is { } g ? $", at least {g.MinLength} characters" : "")}\n{VariableName(p)}=\n");
            await File.WriteAllTextAsync(environmentFile, string.Concat(lines), cancellationToken);
        }
    }

    public static string Render(DistributedApplicationModel model)
    {
        var yaml = new StringBuilder();
        yaml.AppendLine("# Written by the LlmAspire AppHost (--publisher compose). Parameters come from the environment or .env beside this file.");
        yaml.AppendLine("services:");
        foreach (var resource in model.Resources.Where(r => r is ContainerResource or ProjectResource).Where(ManifestPublisher.IsPublished))
        {
            WriteService(yaml, resource);
        }

        yaml.Append("""
              # A vLLM model server, started only with `docker-compose --profile gpu up`. Add it to ModelManager's catalog (or
              # point Gateway__Models__<id>__Endpoint at http://vllm-llama:8000) to serve it through the gateway.
              vllm-llama:
                profiles: ["gpu"]
                image: "vllm/vllm-openai:latest"
                command: ["--model", "meta-llama/Llama-3.1-8B-Instruct", "--served-model-name", "llama-3.1-8b", "--max-model-len", "16384"]
                environment:
                  HF_TOKEN: "${HF_TOKEN:-}"
                volumes:
                  - "huggingface-cache:/root/.cache/huggingface"
                ipc: host
                deploy:
                  resources:
                    reservations:
                      devices:
                        - driver: nvidia
                          count: all
                          capabilities: [gpu]
            volumes:
              huggingface-cache: {}

            """);
        return yaml.ToString();
    }

    private static void WriteService(StringBuilder yaml, IResource resource)
    {
        yaml.AppendLine(CultureInfo.InvariantCulture, $"  {resource.Name}:");
        if (resource is ContainerResource container)
        {
            yaml.AppendLine(CultureInfo.InvariantCulture, $"    image: {Quote(container.ImageReference)}");
            if (container.Entrypoint is not null)
            {
                yaml.AppendLine(CultureInfo.InvariantCulture, $"    entrypoint: [{Quote(container.Entrypoint)}]");
            }
        }
        else
        {
            var variable = resource.Name.ToUpperInvariant().Replace('-', '_') + "_IMAGE";
            yaml.AppendLine(CultureInfo.InvariantCulture, $"    # dotnet publish {Path.GetFileName(((ProjectResource)resource).Metadata.ProjectPath)} -t:PublishContainer");
            yaml.AppendLine(CultureInfo.InvariantCulture, $"    image: {Quote($"${{{variable}:-llmaspire/{resource.Name}:latest}}")}");
        }

        var arguments = ResourceValues.Arguments(resource, DistributedApplicationOperation.Publish);
        if (arguments.Count > 0)
        {
            yaml.AppendLine(CultureInfo.InvariantCulture, $"    command: [{string.Join(", ", arguments.Select(a => Quote(Value(a))))}]");
        }

        var environment = ResourceValues.Environment(resource, DistributedApplicationOperation.Publish);
        if (environment.Count > 0)
        {
            yaml.AppendLine("    environment:");
            foreach (var (name, value) in environment)
            {
                yaml.AppendLine(CultureInfo.InvariantCulture, $"      {name}: {Quote(Value(value))}");
            }
        }

        var external = resource.Annotations.OfType<EndpointAnnotation>().Where(e => e.IsExternal).ToList();
        if (external.Count > 0)
        {
            yaml.AppendLine("    ports:");
            foreach (var endpoint in external)
            {
                yaml.AppendLine(CultureInfo.InvariantCulture, $"      - {Quote($"{ContainerPort(endpoint)}:{ContainerPort(endpoint)}")}");
            }
        }

        var dependencies = resource.Annotations.OfType<WaitAnnotation>()
            .Select(w => w.Resource is IResourceWithParent child ? child.Parent : w.Resource)
            .Select(r => r.Name).Distinct().ToList();
        if (dependencies.Count > 0)
        {
            yaml.AppendLine(CultureInfo.InvariantCulture, $"    depends_on: [{string.Join(", ", dependencies.Select(Quote))}]");
        }

        yaml.AppendLine("    restart: unless-stopped");
    }

    /// <summary>A value as compose sees it: endpoints by service name, parameters as <c>${VARIABLE}</c>, literal <c>$</c> escaped.</summary>
    private static string Value(object value) => value switch
    {
        string text => text.Replace("$", "$$", StringComparison.Ordinal),
        ParameterResource parameter => $"${{{VariableName(parameter)}}}",
        EndpointReference endpoint => Endpoint(endpoint, EndpointProperty.Url),
        EndpointReferenceExpression expression => Endpoint(expression.Endpoint, expression.Property),
        ConnectionStringReference reference => Value(reference.Resource.ConnectionStringExpression),
        ReferenceExpression expression => expression.Evaluate(Value),
        _ => throw new InvalidOperationException($"Unsupported value {value.GetType().Name}."),
    };

    private static string Endpoint(EndpointReference endpoint, EndpointProperty property)
    {
        var annotation = endpoint.Annotation;
        var port = ContainerPort(annotation).ToString(CultureInfo.InvariantCulture);
        return property switch
        {
            EndpointProperty.Url => $"{annotation.Scheme}://{endpoint.Resource.Name}:{port}",
            EndpointProperty.Host => endpoint.Resource.Name,
            _ => port,
        };
    }

    private static int ContainerPort(EndpointAnnotation endpoint) => endpoint.TargetPort ?? ProjectContainerPort;

    private static string VariableName(ParameterResource parameter) => parameter.Name.ToUpperInvariant().Replace('-', '_');

    /// <summary>A JSON string is a valid YAML double-quoted scalar.</summary>
    private static string Quote(string value) => JsonSerializer.Serialize(value, Quoting);
}
