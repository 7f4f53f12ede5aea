using System.Threading.Channels;
using LlmAspire.Gateway.Api.Admission;
using LlmAspire.Gateway.Api.Routing;
using LlmAspire.ModelManager.Client;
using Microsoft.Extensions.Options;

namespace LlmAspire.Gateway.Api.ModelLifecycle;

/// <summary>
/// Tells ModelManager what this replica has in flight and queued for each managed model and how long ago its last
/// request ended: every <c>ActivityReportInterval</c>, and at once when a model's in-flight or queued count goes from
/// 0 to more or back, so that a model that just got a request is not reaped as idle and the change feed's figures
/// follow. Each report is the replica's whole picture.
/// </summary>
internal sealed partial class ActivityReporter : BackgroundService
{
    private readonly AdmissionQueues admission;
    private readonly ModelRouteTable routes;
    private readonly ModelManagerClient modelManager;
    private readonly TimeProvider timeProvider;
    private readonly ILogger<ActivityReporter> logger;
    private readonly TimeSpan interval;
    private readonly Channel<bool> wakeUp = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    public ActivityReporter(
        AdmissionQueues admission, ModelRouteTable routes, ModelManagerClient modelManager, IOptions<ModelManagerClientOptions> options,
        TimeProvider timeProvider, ILogger<ActivityReporter> logger)
    {
        this.admission = admission;
        this.routes = routes;
        this.modelManager = modelManager;
        this.timeProvider = timeProvider;
        this.logger = logger;
        interval = options.Value.ActivityReportInterval;
        admission.BusyChanged += () => wakeUp.Writer.TryWrite(true);
    }

    /// <summary>Stable for this process: host, process id and start time.</summary>
    public static string Replica { get; } = $"{Environment.MachineName}-{Environment.ProcessId}-{DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()}";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var failing = false;
        while (!stoppingToken.IsCancellationRequested)
        {
            using (var tick = new CancellationTokenSource(interval, timeProvider))
            using (var wait = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, tick.Token))
            {
                try
                {
                    await wakeUp.Reader.ReadAsync(wait.Token);
                }
                catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
                {
                }
            }

            var report = Snapshot();
            if (report.Models.Count == 0)
            {
                continue;
            }

            try
            {
                await modelManager.ReportActivityAsync(report, stoppingToken);
                failing = false;
            }
            catch (Exception exception) when (!stoppingToken.IsCancellationRequested)
            {
                if (!failing)
                {
                    LogReportFailed(logger, exception.Message);
                    failing = true;
                }
            }
        }
    }

    internal ActivityReport Snapshot()
    {
        var models = new Dictionary<string, ModelActivity>(StringComparer.Ordinal);
        foreach (var queue in admission.All)
        {
            if (routes.TryGetModel(queue.Model, out var model) && model.Managed)
            {
                var inFlight = (int)queue.InFlight;
                models[queue.Model] = new ModelActivity(inFlight, inFlight > 0 ? 0 : queue.SinceLastEnded.TotalSeconds, (int)queue.Queued);
            }
        }

        return new ActivityReport(Replica, models);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reporting activity to ModelManager failed ({Reason}); it will be retried with the next report")]
    private static partial void LogReportFailed(ILogger logger, string reason);
}
