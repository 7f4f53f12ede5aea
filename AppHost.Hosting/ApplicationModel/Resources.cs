namespace LlmAspire.Hosting.ApplicationModel;

/// <summary>A .NET project of the repository; generated <c>Projects.*</c> classes implement this (ProjectMetadata.targets).</summary>
public interface IProjectMetadata
{
    /// <summary>Full path of the .csproj.</summary>
    string ProjectPath { get; }

    /// <summary>Full path of the built assembly, run locally with <c>dotnet</c>.</summary>
    string TargetPath { get; }
}

public sealed class ProjectResource(string name, IProjectMetadata metadata)
    : Resource(name), IResourceWithEnvironment, IResourceWithServiceDiscovery, IResourceWithWaitSupport
{
    public IProjectMetadata Metadata { get; } = metadata;
}

/// <summary>Any program on this machine.</summary>
public sealed class ExecutableResource(string name, string command, string workingDirectory)
    : Resource(name), IResourceWithEnvironment, IResourceWithServiceDiscovery, IResourceWithWaitSupport
{
    public string Command { get; } = command;

    public string WorkingDirectory { get; } = workingDirectory;
}

public class ContainerResource(string name, string image, string tag, string? entrypoint = null)
    : Resource(name), IResourceWithEnvironment, IResourceWithEndpoints, IResourceWithWaitSupport
{
    /// <summary>Full image name, e.g. <c>docker.io/library/redis</c>.</summary>
    public string Image { get; } = image;

    public string Tag { get; } = tag;

    public string? Entrypoint { get; } = entrypoint;

    public string ImageReference => $"{Image}:{Tag}";
}

/// <summary>How a value is made up when configuration has none (<c>parameter.v0</c>'s <c>default.generate</c>).</summary>
public sealed record GenerateParameterDefault(int MinLength = 22, bool Special = false);

/// <summary>
/// A value supplied by configuration (<c>Parameters:&lt;name&gt;</c>) or, with a <see cref="Generate"/> default,
/// made up once per machine and kept in the AppHost's user secrets.
/// </summary>
public sealed class ParameterResource(string name, Func<string> resolve, bool secret, GenerateParameterDefault? generate)
    : Resource(name), IValueProvider, IManifestExpressionProvider
{
    private readonly Lazy<string> value = new(resolve);

    public bool Secret { get; } = secret;

    public GenerateParameterDefault? Generate { get; } = generate;

    public string Value => value.Value;

    public string ValueExpression => $"{{{Name}.value}}";

    public ValueTask<string?> GetValueAsync(CancellationToken cancellationToken = default) => ValueTask.FromResult<string?>(Value);
}
