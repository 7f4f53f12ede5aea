using LlmAspire.VllmSimulator.Catalog;
using LlmAspire.VllmSimulator.Metrics;
using LlmAspire.VllmSimulator.Requests;
using LlmAspire.VllmSimulator.SleepMode;
using LlmAspire.VllmSimulator.Startup;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace LlmAspire.VllmSimulator;

/// <summary>
/// Builds the simulator as a <see cref="WebApplication"/>: used by Program.cs, and by tests that host it in-process
/// (pass <c>--urls http://127.0.0.1:0</c> and read the bound address from IServerAddressesFeature after start).
/// </summary>
internal static class SimulatorApplication
{
    /// <summary>Command-line switches, vLLM style, mapped onto the "Simulator" section.</summary>
    public static IReadOnlyDictionary<string, string> SwitchMappings { get; } = new Dictionary<string, string>
    {
        ["--model"] = "Simulator:Model",
        ["--ttft-ms"] = "Simulator:TtftMs",
        ["--tokens-per-second"] = "Simulator:TokensPerSecond",
        ["--output-tokens"] = "Simulator:OutputTokens",
        ["--startup-delay-ms"] = "Simulator:StartupDelayMs",
        ["--max-concurrency"] = "Simulator:MaxConcurrency",
        ["--fault"] = "Simulator:Fault",
        ["--embedding-dimensions"] = "Simulator:EmbeddingDimensions",
        ["--enable-sleep-mode"] = "Simulator:EnableSleepMode",
        ["--sleep-delay-ms"] = "Simulator:SleepDelayMs",
        ["--wake-delay-ms"] = "Simulator:WakeDelayMs",
    };

    /// <summary>Switches that vLLM takes without a value; given one (<c>--enable-sleep-mode true</c>) they work too.</summary>
    private static readonly string[] Flags = ["--enable-sleep-mode"];

    public static WebApplication Build(string[] args)
    {
        args = WithFlagValues(args);
        // The slim builder leaves out what a test double does not need (HTTPS, IIS, hosting startup assemblies).
        var builder = WebApplication.CreateSlimBuilder(args);
        builder.Configuration.AddCommandLine(args, SwitchMappings.ToDictionary(StringComparer.OrdinalIgnoreCase));

        // Per-request logs would cost more than the simulated requests themselves; start-up lines stay.
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);

        builder.Services.AddValidatedOptions<SimulatorOptions>(SimulatorOptions.SectionName);
        builder.Services.AddSingleton<IValidateOptions<SimulatorOptions>, SimulatorOptionsValidator>();
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<SimulatorState>();
        builder.Services.AddSingleton<RequestHandler>();
        builder.Services.AddSingleton<EngineSleep>();
        builder.Services.AddHostedService<ModelLoader>();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.ConfigureEndpointDefaults(listen => listen.UseConnectionCounting()));

        var app = builder.Build();
        app.MapVllmSimulator();
        return app;
    }

    /// <summary>Maps the vLLM OpenAI-compatible endpoints, <c>/health</c> and <c>/metrics</c>.</summary>
    public static IEndpointRouteBuilder MapVllmSimulator(this IEndpointRouteBuilder endpoints)
    {
        // Resolved on first use: options are validated when the host starts, and an invalid value must fail the start
        // with its message, not the building of the endpoints.
        var services = endpoints.ServiceProvider;
        var state = new Lazy<SimulatorState>(services.GetRequiredService<SimulatorState>);
        var handler = new Lazy<RequestHandler>(services.GetRequiredService<RequestHandler>);
        var engine = new Lazy<EngineSleep>(services.GetRequiredService<EngineSleep>);
        endpoints.MapCatalog(state, services.GetRequiredService<TimeProvider>());
        endpoints.MapMetrics(state, engine);
        if (services.GetRequiredService<IConfiguration>().GetValue<bool>($"{SimulatorOptions.SectionName}:{nameof(SimulatorOptions.EnableSleepMode)}"))
        {
            endpoints.MapSleepMode(engine);
        }

        endpoints.MapPost("/v1/chat/completions", context => handler.Value.HandleAsync(context, ApiKind.ChatCompletions));
        endpoints.MapPost("/v1/completions", context => handler.Value.HandleAsync(context, ApiKind.Completions));
        endpoints.MapPost("/v1/embeddings", context => handler.Value.HandleAsync(context, ApiKind.Embeddings));
        return endpoints;
    }

    /// <summary>A flag without a value (last, or followed by another switch) becomes <c>--flag=true</c> for the configuration.</summary>
    private static string[] WithFlagValues(string[] args) =>
        [.. args.Select((arg, i) => Flags.Contains(arg, StringComparer.OrdinalIgnoreCase) && (i + 1 == args.Length || args[i + 1].StartsWith('-')) ? $"{arg}=true" : arg)];
}
