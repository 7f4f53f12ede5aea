using Microsoft.Extensions.Options;

namespace LlmAspire.VllmSimulator.Startup;

/// <summary>
/// Simulates model loading. It runs in <see cref="IHostedLifecycleService.StartingAsync"/>, before any hosted service
/// starts, Kestrel included: like vLLM, the server does not listen at all until its models are loaded, so a caller
/// sees "connection refused" rather than a server that accepts and stalls.
/// </summary>
internal sealed partial class ModelLoader(IOptions<SimulatorOptions> options, TimeProvider time, ILogger<ModelLoader> logger)
    : IHostedLifecycleService
{
    public async Task StartingAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        LogLoading(logger, settings.Model, settings.StartupDelayMs, settings.TtftMs, settings.TokensPerSecond, settings.OutputTokens,
            settings.MaxConcurrency, string.IsNullOrWhiteSpace(settings.Fault) ? "none" : settings.Fault);
        if (settings.StartupDelayMs > 0)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(settings.StartupDelayMs), time, cancellationToken);
        }
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Information, Message = "Loading model(s) {Models} for {StartupDelayMs} ms; then serving with "
        + "ttft {TtftMs} ms, {TokensPerSecond} tokens/s (0 = no delay), {OutputTokens} output tokens, max concurrency {MaxConcurrency}, fault {Fault}")]
    private static partial void LogLoading(ILogger logger, string models, int startupDelayMs, int ttftMs, double tokensPerSecond,
        int outputTokens, int maxConcurrency, string fault);
}
