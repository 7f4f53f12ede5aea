using LlmAspire.Hosting.ApplicationModel;

namespace LlmAspire.Hosting.Orchestration;

/// <summary>Runs a resource's environment and argument callbacks for one operation.</summary>
public static class ResourceValues
{
    public static Dictionary<string, object> Environment(IResource resource, DistributedApplicationOperation operation)
    {
        var context = new EnvironmentCallbackContext(operation);
        foreach (var annotation in resource.Annotations.OfType<EnvironmentCallbackAnnotation>())
        {
            annotation.Callback(context);
        }

        return context.EnvironmentVariables;
    }

    public static List<object> Arguments(IResource resource, DistributedApplicationOperation operation)
    {
        var context = new CommandLineArgsCallbackContext(operation);
        foreach (var annotation in resource.Annotations.OfType<CommandLineArgsCallbackAnnotation>())
        {
            annotation.Callback(context);
        }

        return context.Args;
    }

    /// <summary>The value when running: strings as they are, run-time values resolved.</summary>
    public static async ValueTask<string> ResolveAsync(object value, CancellationToken cancellationToken) => value switch
    {
        string text => text,
        IValueProvider provider => await provider.GetValueAsync(cancellationToken) ?? "",
        _ => throw new InvalidOperationException($"Unsupported value {value.GetType().Name}."),
    };

    /// <summary>The value as a manifest expression.</summary>
    public static string Expression(object value) => value switch
    {
        string text => text,
        IManifestExpressionProvider provider => provider.ValueExpression,
        _ => throw new InvalidOperationException($"Unsupported value {value.GetType().Name}."),
    };
}
