using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Configuration.Memory;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Defaults every LlmAspire service shares, in the shape of Aspire's service-defaults project: OpenTelemetry, health
/// endpoints, service discovery, control-plane HttpClient resilience and default log levels. Services never depend on
/// which AppHost started them.
/// </summary>
public static class Extensions
{
    /// <summary>Meters and activity sources of the platform's own components start with this prefix.</summary>
    public const string TelemetryPrefix = "LlmAspire.";

    private const string HealthEndpointPath = "/health";
    private const string AlivenessEndpointPath = "/alive";
    private const string OtlpEndpointKey = "OTEL_EXPORTER_OTLP_ENDPOINT";

    /// <summary>
    /// Log levels that leave one console line per meaningful event. The services log what an operator must see
    /// themselves (a failed forward, an unreachable dependency once when it goes and once when it returns), so
    /// per-call lines of libraries are only noise at Information.
    /// </summary>
    private static readonly Dictionary<string, string?> DefaultLogLevels = new()
    {
        ["Logging:LogLevel:Default"] = "Information",
        // Four lines per call of every IHttpClientFactory client: ModelManager's long polls and activity reports, probes.
        ["Logging:LogLevel:System.Net.Http.HttpClient"] = "Warning",
        // A line per attempt through a resilience pipeline.
        ["Logging:LogLevel:Polly"] = "Warning",
        // Request started, endpoint executed, result written, request finished: four lines per request.
        ["Logging:LogLevel:Microsoft.AspNetCore"] = "Warning",
        // Request started and finished (Information), nothing above Warning but a captured start-up error (off by default).
        // While this category is enabled at any level, ASP.NET Core starts an Activity for every request only to put trace
        // ids into log scopes: about 2.5 KB and 4 µs per request. Traces, when exported, come from their own listener.
        ["Logging:LogLevel:Microsoft.AspNetCore.Hosting.Diagnostics"] = "None",
        // A line per forwarded request, and a second warning beside the gateway's own for each failed forward.
        ["Logging:LogLevel:Yarp"] = "Error",
        // Every reconnect attempt with a stack trace while Redis is down.
        ["Logging:LogLevel:StackExchange.Redis"] = "Critical",
        // A warning with a stack trace on every probe of /health while a dependency is Degraded.
        ["Logging:LogLevel:Microsoft.Extensions.Diagnostics.HealthChecks"] = "Error",
    };

    public static TBuilder AddServiceDefaults<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        // Below every other source: appsettings, Logging__LogLevel__<category> and the command line override any of them.
        builder.Configuration.Sources.Insert(0, new MemoryConfigurationSource { InitialData = DefaultLogLevels });
        builder.ConfigureOpenTelemetry();
        builder.AddDefaultHealthChecks();
        builder.Services.AddServiceDiscovery();

        // Control-plane clients (health probes, ModelManager calls) get retries and timeouts.
        // The gateway's forwarding client is deliberately not built by IHttpClientFactory and so
        // never receives these: a 30-second total timeout would cut long generations.
        builder.Services.ConfigureHttpClientDefaults(http =>
        {
            http.AddStandardResilienceHandler();
            http.AddServiceDiscovery();
        });

        // A background loop that fails is logged and the service keeps serving: stopping the host for it would end every
        // request in flight (and, in ModelManager with StopModelsOnShutdown, stop the models). Each loop also catches,
        // logs and carries on by itself; this is the backstop.
        builder.Services.Configure<HostOptions>(host => host.BackgroundServiceExceptionBehavior = BackgroundServiceExceptionBehavior.Ignore);
        return builder;
    }

    /// <summary>
    /// Whether telemetry leaves the process: <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set (the AppHost sets it for every
    /// service). Aspire's client integrations are registered with their tracing and metrics on only then.
    /// </summary>
    public static bool ExportsTelemetry(this IHostApplicationBuilder builder) => !string.IsNullOrWhiteSpace(builder.Configuration[OtlpEndpointKey]);

    /// <summary>
    /// Logs, metrics and traces over OTLP: ASP.NET Core, HttpClient, the runtime, the platform's own meters and
    /// sources, and whatever Aspire's client integrations add to the same pipeline (Npgsql, StackExchange.Redis).
    /// Without an endpoint nothing would receive the data, so the pipeline is not installed at all: collecting unread
    /// telemetry costs every request about 15 µs at the gateway.
    /// </summary>
    public static TBuilder ConfigureOpenTelemetry<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        if (!builder.ExportsTelemetry())
        {
            return builder;
        }

        builder.Logging.AddOpenTelemetry(logging =>
        {
            logging.IncludeFormattedMessage = true;
            logging.IncludeScopes = true;
        });

        builder.Services.AddOpenTelemetry()
            .WithMetrics(metrics => metrics
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddRuntimeInstrumentation()
                .AddMeter(TelemetryPrefix + "*"))
            .WithTracing(tracing => tracing
                .AddSource(builder.Environment.ApplicationName)
                .AddSource(TelemetryPrefix + "*")
                .AddAspNetCoreInstrumentation(options =>
                    // Probes would drown the interesting traces.
                    options.Filter = context =>
                        !context.Request.Path.StartsWithSegments(HealthEndpointPath)
                        && !context.Request.Path.StartsWithSegments(AlivenessEndpointPath))
                .AddHttpClientInstrumentation())
            .UseOtlpExporter();
        return builder;
    }

    public static TBuilder AddDefaultHealthChecks<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Services.AddHealthChecks()
            .AddCheck("self", () => HealthCheckResult.Healthy(), ["live"]);
        return builder;
    }

    /// <summary>
    /// Maps <c>/health</c> (ready: every registered check; Degraded still answers 200) and <c>/alive</c> (live: only
    /// checks tagged "live"). Both are mapped in every environment because the orchestrator waits on them.
    /// </summary>
    public static WebApplication MapDefaultEndpoints(this WebApplication app)
    {
        app.MapHealthChecks(HealthEndpointPath);
        app.MapHealthChecks(AlivenessEndpointPath, new HealthCheckOptions
        {
            Predicate = registration => registration.Tags.Contains("live"),
        });
        return app;
    }
}
