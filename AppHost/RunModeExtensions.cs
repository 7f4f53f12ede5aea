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

    /// <summary>
    /// Telemetry export to the local dashboard gives up after 2 s instead of OpenTelemetry's 10: when the AppHost stops,
    /// the dashboard goes with everything else, and each service's last flush would otherwise hold its exit that long.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithLocalTelemetryExport(this IResourceBuilder<ProjectResource> project) =>
        project.WithEnvironmentWhenRunning("OTEL_EXPORTER_OTLP_TIMEOUT", "2000");
}
