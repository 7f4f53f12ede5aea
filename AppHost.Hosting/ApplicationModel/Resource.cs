namespace LlmAspire.Hosting.ApplicationModel;

/// <summary>Something the application is made of: a server, a service, a value. Behaviour hangs off its annotations.</summary>
public interface IResource
{
    string Name { get; }

    ResourceAnnotationCollection Annotations { get; }
}

/// <summary>Marker for what can be attached to a resource.</summary>
public interface IResourceAnnotation;

public sealed class ResourceAnnotationCollection : List<IResourceAnnotation>;

public abstract class Resource(string name) : IResource
{
    public string Name { get; } = ResourceNames.Validate(name);

    public ResourceAnnotationCollection Annotations { get; } = [];

    public override string ToString() => Name;
}

/// <summary>A resource that receives environment variables (containers, executables, projects).</summary>
public interface IResourceWithEnvironment : IResource;

/// <summary>A resource that listens on endpoints.</summary>
public interface IResourceWithEndpoints : IResource;

/// <summary>A resource that others find through <c>services__&lt;name&gt;__&lt;endpoint&gt;__0</c>.</summary>
public interface IResourceWithServiceDiscovery : IResourceWithEndpoints;

/// <summary>A resource that can wait for others before it starts.</summary>
public interface IResourceWithWaitSupport : IResource;

/// <summary>A resource that others reach through <c>ConnectionStrings__&lt;name&gt;</c>.</summary>
public interface IResourceWithConnectionString : IResource
{
    ReferenceExpression ConnectionStringExpression { get; }
}

/// <summary>A resource that lives inside another one (a database inside its server).</summary>
public interface IResourceWithParent : IResource
{
    IResource Parent { get; }
}

public static class ResourceNames
{
    /// <summary>Names become environment variable parts, DNS names and manifest keys: lower-case letters, digits and '-'.</summary>
    public static string Validate(string name)
    {
        if (string.IsNullOrEmpty(name) || name.Length > 64 || !char.IsAsciiLetterLower(name[0])
            || !name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-') || name.EndsWith('-'))
        {
            throw new ArgumentException($"Resource name '{name}' is invalid: use 1-64 lower-case letters, digits and '-', starting with a letter.", nameof(name));
        }

        return name;
    }
}
