namespace LlmAspire.AppHost;

internal static class RunModeExtensions
{
    /// <summary>An environment variable for local runs only: a deployment's manifest never carries this machine's paths.</summary>
    public static IResourceBuilder<T> WithEnvironmentWhenRunning<T>(this IResourceBuilder<T> resource, string name, string value)
        where T : IResourceWithEnvironment =>
        resource.WithEnvironment(context =>
        {
            if (context.ExecutionContext.IsRunMode)
            {
                context.EnvironmentVariables[name] = value;
            }
        });
}
