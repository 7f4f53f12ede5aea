using System.Text.Encodings.Web;
using System.Text.Json;
using LlmAspire.Hosting.ApplicationModel;
using LlmAspire.Hosting.Orchestration;

namespace LlmAspire.Hosting.Publishing;

/// <summary>
/// Writes Aspire's deployment manifest (the JSON that azd reads; schema https://json.schemastore.org/aspire-8.0.json):
/// <c>container.v0</c>, <c>project.v0</c>, <c>executable.v0</c>, <c>value.v0</c> and <c>parameter.v0</c> resources
/// with bindings, environment and connection strings as expressions such as <c>{cache.connectionString}</c>.
/// </summary>
public static class ManifestPublisher
{
    public const string SchemaUrl = "https://json.schemastore.org/aspire-8.0.json";

    public static async Task WriteAsync(DistributedApplicationModel model, string appHostDirectory, string outputPath, CancellationToken cancellationToken)
    {
        await using var file = File.Create(outputPath);
        await using var writer = new Utf8JsonWriter(file, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        Write(writer, model, Path.GetDirectoryName(Path.GetFullPath(outputPath))!);
        await writer.FlushAsync(cancellationToken);
    }

    /// <param name="manifestDirectory">Project paths are written relative to it.</param>
    public static void Write(Utf8JsonWriter writer, DistributedApplicationModel model, string manifestDirectory)
    {
        writer.WriteStartObject();
        writer.WriteString("$schema", SchemaUrl);
        writer.WriteStartObject("resources");
        foreach (var resource in model.Resources.Where(IsPublished))
        {
            writer.WriteStartObject(resource.Name);
            WriteResource(writer, resource, manifestDirectory);
            writer.WriteEndObject();
        }

        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    /// <summary>False for resources that exist only when running locally.</summary>
    internal static bool IsPublished(IResource resource) => !resource.Annotations.OfType<ExcludeFromManifestAnnotation>().Any();

    private static void WriteResource(Utf8JsonWriter writer, IResource resource, string manifestDirectory)
    {
        switch (resource)
        {
            case ParameterResource parameter:
                WriteParameter(writer, parameter);
                return;
            case ContainerResource container:
                writer.WriteString("type", "container.v0");
                WriteConnectionString(writer, container);
                writer.WriteString("image", container.ImageReference);
                if (container.Entrypoint is not null)
                {
                    writer.WriteString("entrypoint", container.Entrypoint);
                }

                break;
            case ProjectResource project:
                writer.WriteString("type", "project.v0");
                writer.WriteString("path", Path.GetRelativePath(manifestDirectory, project.Metadata.ProjectPath));
                break;
            case ExecutableResource executable:
                writer.WriteString("type", "executable.v0");
                writer.WriteString("workingDirectory", Path.GetRelativePath(manifestDirectory, executable.WorkingDirectory));
                writer.WriteString("command", executable.Command);
                break;
            case IResourceWithConnectionString value:
                writer.WriteString("type", "value.v0");
                WriteConnectionString(writer, value);
                return;
            default:
                throw new InvalidOperationException($"Resource '{resource.Name}' ({resource.GetType().Name}) cannot be written to a manifest.");
        }

        WriteArguments(writer, resource);
        WriteEnvironment(writer, resource);
        WriteBindings(writer, resource);
    }

    private static void WriteParameter(Utf8JsonWriter writer, ParameterResource parameter)
    {
        writer.WriteString("type", "parameter.v0");
        writer.WriteString("value", $"{{{parameter.Name}.inputs.value}}");
        writer.WriteStartObject("inputs");
        writer.WriteStartObject("value");
        writer.WriteString("type", "string");
        if (parameter.Secret)
        {
            writer.WriteBoolean("secret", true);
        }

        if (parameter.Generate is { } generate)
        {
            writer.WriteStartObject("default");
            writer.WriteStartObject("generate");
            writer.WriteNumber("minLength", generate.MinLength);
            if (!generate.Special)
            {
                writer.WriteBoolean("special", false);
            }

            writer.WriteEndObject();
            writer.WriteEndObject();
        }

        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    private static void WriteConnectionString(Utf8JsonWriter writer, IResource resource)
    {
        if (resource is IResourceWithConnectionString withConnectionString)
        {
            writer.WriteString("connectionString", withConnectionString.ConnectionStringExpression.ValueExpression);
        }
    }

    private static void WriteArguments(Utf8JsonWriter writer, IResource resource)
    {
        var arguments = ResourceValues.Arguments(resource, DistributedApplicationOperation.Publish);
        if (arguments.Count > 0)
        {
            writer.WriteStartArray("args");
            foreach (var argument in arguments)
            {
                writer.WriteStringValue(ResourceValues.Expression(argument));
            }

            writer.WriteEndArray();
        }
    }

    private static void WriteEnvironment(Utf8JsonWriter writer, IResource resource)
    {
        var environment = ResourceValues.Environment(resource, DistributedApplicationOperation.Publish);
        if (environment.Count > 0)
        {
            writer.WriteStartObject("env");
            foreach (var (name, value) in environment)
            {
                writer.WriteString(name, ResourceValues.Expression(value));
            }

            writer.WriteEndObject();
        }
    }

    private static void WriteBindings(Utf8JsonWriter writer, IResource resource)
    {
        var endpoints = resource.Annotations.OfType<EndpointAnnotation>().ToList();
        if (endpoints.Count == 0)
        {
            return;
        }

        writer.WriteStartObject("bindings");
        foreach (var endpoint in endpoints)
        {
            writer.WriteStartObject(endpoint.Name);
            writer.WriteString("scheme", endpoint.Scheme);
            writer.WriteString("protocol", "tcp");
            writer.WriteString("transport", endpoint.Scheme == "http" ? "http" : "tcp");
            if (endpoint.TargetPort is { } targetPort)
            {
                writer.WriteNumber("targetPort", targetPort);
            }

            if (endpoint.IsExternal)
            {
                writer.WriteBoolean("external", true);
            }

            writer.WriteEndObject();
        }

        writer.WriteEndObject();
    }
}
