using System.Collections.Frozen;
using System.Diagnostics.CodeAnalysis;
using LlmAspire.Gateway.Api.Configuration;
using LlmAspire.Gateway.Api.Requests;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace LlmAspire.Gateway.Api.Routing;

/// <summary>
/// A model the gateway serves: one at a fixed endpoint (always routable), or one of ModelManager's catalog, routable
/// only while it is ready (<see cref="Route"/> is null otherwise and a request first has it loaded).
/// </summary>
internal sealed record RoutedModel(string Id, ModelOptions Options, bool Managed, string? State, ModelRoute? Route)
{
    /// <summary>ModelManager's catalog version of this model's last change; later news wins.</summary>
    public long Version { get; init; }

    /// <summary>
    /// Not known to exist: ModelManager's catalog has not been read yet, so only its <c>ensure</c> can tell (a request
    /// asks before it is given a queue).
    /// </summary>
    public bool Unconfirmed { get; init; }
}

/// <summary>The gateway's routing table: which model ids exist and where each is served.</summary>
internal interface IModelRouteTable
{
    IReadOnlyCollection<RoutedModel> Models { get; }

    /// <summary>Raised after ModelManager's news changed the managed models (states, endpoints, limits).</summary>
    event Action? ModelsChanged;

    bool TryGetModel(string model, [NotNullWhen(true)] out RoutedModel? routed);
}

/// <summary>
/// Fixed routes from <c>Gateway:Models</c>, plus ModelManager's catalog as its change feed and <c>ensure</c> answers
/// report it. Readers get an immutable snapshot per lookup; writers swap the parts atomically. When ModelManager is
/// unreachable the last known catalog stays in place, so warm models keep serving. When the configuration reloads
/// (appsettings.json edited), changed <c>Gateway:Models</c> entries apply to the next request without a restart; a
/// change that fails validation is not taken: the table keeps what it has and says why.
/// </summary>
internal sealed partial class ModelRouteTable : IModelRouteTable, IDisposable
{
    private readonly Lock writeLock = new();
    private readonly IDisposable reloading;
    private readonly ILogger<ModelRouteTable> logger;
    private GatewayOptions options;
    private FrozenDictionary<string, RoutedModel> fixedModels;
    private FrozenDictionary<string, RoutedModel> managedModels = FrozenDictionary<string, RoutedModel>.Empty;
    private long catalogVersion = -1;

    public ModelRouteTable(
        IOptions<GatewayOptions> options, IOptionsFactory<GatewayOptions> reloaded, IConfiguration configuration, ILogger<ModelRouteTable> logger)
    {
        this.logger = logger;
        this.options = options.Value;
        ManagerConfigured = ModelManagerDiscovery.IsConfigured(configuration);
        fixedModels = FixedModels(this.options);
        // Each reload is bound and validated once, as at start-up; settings that fail are logged and not taken.
        reloading = ChangeToken.OnChange(configuration.GetReloadToken, () =>
        {
            GatewayOptions changed;
            try
            {
                changed = reloaded.Create(Options.DefaultName);
            }
            catch (OptionsValidationException refused)
            {
                LogReloadRefused(logger, refused.Message);
                return;
            }

            Reload(changed);
        });
    }

    public event Action? ModelsChanged;

    /// <summary>Whether ModelManager is configured (service discovery entry <c>services:modelmanager</c>).</summary>
    public bool ManagerConfigured { get; }

    /// <summary>Whether ModelManager's catalog has been read at least once; until then any unknown id may be in it.</summary>
    public bool CatalogKnown { get; private set; }

    public IReadOnlyCollection<RoutedModel> Models => [.. fixedModels.Values, .. managedModels.Values.Where(model => !fixedModels.ContainsKey(model.Id))];

    public bool TryGetModel(string model, [NotNullWhen(true)] out RoutedModel? routed)
    {
        if (fixedModels.TryGetValue(model, out routed) || managedModels.TryGetValue(model, out routed))
        {
            return true;
        }

        // Before the catalog is known, a request may name any of its models: let ModelManager say whether it exists.
        routed = ManagerConfigured && !CatalogKnown ? Managed(model, state: null, endpoint: null, maxConcurrency: null) with { Unconfirmed = true } : null;
        return routed is not null;
    }

    /// <summary>
    /// Replaces the managed part with ModelManager's whole catalog at <paramref name="version"/>, keeping a model's
    /// later news from an <c>ensure</c> answer, unless <paramref name="replace"/> (the first answer after a reconnect)
    /// or the catalog version went down: ModelManager restarted and counts anew, so its catalog replaces everything.
    /// </summary>
    public void ApplyCatalog(long version, IEnumerable<RoutedModel> models, bool replace)
    {
        lock (writeLock)
        {
            var known = replace || version < catalogVersion ? FrozenDictionary<string, RoutedModel>.Empty : managedModels;
            managedModels = models
                .Select(model => known.TryGetValue(model.Id, out var current) && current.Version > model.Version ? current : model)
                .ToFrozenDictionary(model => model.Id, StringComparer.Ordinal);
            catalogVersion = version;
            CatalogKnown = true;
        }

        ModelsChanged?.Invoke();
    }

    /// <summary>Takes one model's news (an <c>ensure</c> answer) into the table unless it already holds later news.</summary>
    public void Apply(RoutedModel model)
    {
        lock (writeLock)
        {
            if (managedModels.TryGetValue(model.Id, out var current) && current.Version > model.Version)
            {
                return;
            }

            managedModels = managedModels.Where(entry => entry.Key != model.Id).Append(KeyValuePair.Create(model.Id, model))
                .ToFrozenDictionary(StringComparer.Ordinal);
        }

        ModelsChanged?.Invoke();
    }

    /// <summary>
    /// Takes the route of a model whose server refused a connection out of the table, so that further requests have
    /// it ensured again instead of trying the dead endpoint. Does nothing when the table already routes it elsewhere.
    /// </summary>
    public void MarkDown(string model, Uri endpoint)
    {
        lock (writeLock)
        {
            if (managedModels.TryGetValue(model, out var current) && current.Route?.Endpoint == endpoint)
            {
                managedModels = managedModels
                    .Select(entry => entry.Key == model ? KeyValuePair.Create(model, current with { State = "down", Route = null }) : entry)
                    .ToFrozenDictionary(StringComparer.Ordinal);
            }
        }
    }

    public void Dispose() => reloading.Dispose();

    /// <summary>
    /// A catalog model with the gateway's per-model settings (a <c>Gateway:Models:&lt;id&gt;</c> entry without an
    /// endpoint, or the defaults); how many requests go to it at once is the catalog's <c>MaxConcurrency</c>. Routable
    /// at <paramref name="endpoint"/>, or not (null) until it is loaded.
    /// </summary>
    public RoutedModel Managed(string id, string? state, Uri? endpoint, int? maxConcurrency)
    {
        var settings = options.Models.TryGetValue(id, out var configured) ? configured : new ModelOptions();
        if (maxConcurrency is { } concurrency && concurrency != settings.MaxConcurrent)
        {
            settings = settings.WithMaxConcurrent(concurrency);
        }

        return new RoutedModel(id, settings, Managed: true, state, endpoint is null ? null : new ModelRoute(id, endpoint, settings, Managed: true));
    }

    private static FrozenDictionary<string, RoutedModel> FixedModels(GatewayOptions options) => options.Models
        .Where(entry => entry.Value.Endpoint is not null)
        .ToFrozenDictionary(
            entry => entry.Key,
            entry => new RoutedModel(entry.Key, entry.Value, Managed: false, State: null, new ModelRoute(entry.Key, entry.Value.Endpoint!, entry.Value)),
            StringComparer.Ordinal);

    /// <summary>
    /// Takes reloaded settings: fixed routes are rebuilt, and each catalog model keeps its state, endpoint, version and
    /// the catalog's concurrency with the new per-model settings. Requests under way keep the route they started with.
    /// </summary>
    private void Reload(GatewayOptions changed)
    {
        lock (writeLock)
        {
            options = changed;
            fixedModels = FixedModels(changed);
            managedModels = managedModels.Values
                .Select(model => Managed(model.Id, model.State, model.Route?.Endpoint, model.Options.MaxConcurrent) with { Version = model.Version })
                .ToFrozenDictionary(model => model.Id, StringComparer.Ordinal);
        }

        LogReloaded(logger, fixedModels.Count, changed.Models.Count);
        ModelsChanged?.Invoke();
    }

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Gateway:Models reloaded: {FixedModels} fixed routes, {Entries} entries; new requests use the changed settings")]
    private static partial void LogReloaded(ILogger logger, int fixedModels, int entries);

    [LoggerMessage(Level = LogLevel.Error,
        Message = "The reloaded Gateway configuration is not valid and is not taken; the gateway keeps its current settings, and a restart would refuse to start: {Errors}")]
    private static partial void LogReloadRefused(ILogger logger, string errors);
}
