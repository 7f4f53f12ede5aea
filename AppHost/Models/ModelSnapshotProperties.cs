using System.Collections.Immutable;
using System.Globalization;
using LlmAspire.ModelManager.Client;

namespace LlmAspire.AppHost.Models;

/// <summary>What the dashboard shows of a model, as resource properties (the state word is kept short; figures live here).</summary>
internal static class ModelSnapshotProperties
{
    public static ImmutableArray<ResourcePropertySnapshot> Initial(ModelResource model) =>
    [
        Property("model.id", "Model", model.ModelId, sortOrder: 0),
    ];

    /// <summary>
    /// <paramref name="current"/> with the model's own properties replaced by <paramref name="model"/>'s; Aspire's
    /// (<c>resource.parentName</c>, by which the dashboard nests the model under ModelManager) are kept.
    /// </summary>
    public static ImmutableArray<ResourcePropertySnapshot> Replace(ImmutableArray<ResourcePropertySnapshot> current, ImmutableArray<ResourcePropertySnapshot> model) =>
        [.. current.Where(property => !property.Name.StartsWith("model.", StringComparison.Ordinal)), .. model];

    /// <summary>The model's figures now; the idle countdown is counted from <paramref name="now"/>.</summary>
    public static ImmutableArray<ResourcePropertySnapshot> Of(ModelSnapshot model, DateTimeOffset now) =>
    [
        Property("model.id", "Model", model.Id, sortOrder: 0),
        Property("model.runtime", "Runtime", model.Runtime, sortOrder: 1),
        Property("model.endpoint", "Endpoint", model.Endpoint?.ToString() ?? "", sortOrder: 2),
        Property("model.in-flight", "In flight", model.InFlight.ToString(CultureInfo.InvariantCulture), sortOrder: 3),
        Property("model.queued", "Queued", model.Queued.ToString(CultureInfo.InvariantCulture), sortOrder: 4),
        Property("model.idle-sleep-in", "Idle sleep in", Countdown(model.IdleSleepAt, now), sortOrder: 5),
        Property("model.idle-stop-in", "Idle stop in", Countdown(model.IdleStopAt, now), sortOrder: 6),
        Property("model.last-cold-start", "Last cold start",
            model.LastColdStartSeconds is { } seconds ? string.Create(CultureInfo.InvariantCulture, $"{seconds:0.0} s") : "", sortOrder: 7),
        Property("model.last-error", "Last error", model.LastError ?? "", sortOrder: 8),
    ];

    /// <summary>Time left until <paramref name="moment"/>; empty when there is none.</summary>
    private static string Countdown(DateTimeOffset? moment, DateTimeOffset now)
    {
        if (moment is not { } at)
        {
            return "";
        }

        var left = at - now;
        return left <= TimeSpan.Zero ? "now"
            : left >= TimeSpan.FromHours(1) ? left.ToString(@"h\:mm\:ss", CultureInfo.InvariantCulture)
            : left.ToString(@"m\:ss", CultureInfo.InvariantCulture);
    }

    private static ResourcePropertySnapshot Property(string name, string displayName, string value, int sortOrder) =>
        new(name, value) { DisplayName = displayName, SortOrder = sortOrder, IsHighlighted = true };
}
