using System.Collections.Frozen;
using System.Diagnostics.CodeAnalysis;
using LlmAspire.Gateway.Configuration;
using LlmAspire.Gateway.ModelLifecycle;
using LlmAspire.ModelManager.Client;
using Microsoft.Extensions.Options;

namespace LlmAspire.Gateway.Routing;

/// <summary>Where one model is served right now and the limits that apply to it.</summary>
public sealed record ModelRoute(string Id, Uri Endpoint, ModelOptions Options, bool Managed = false)
{
    /// <summary>YARP wants the destination as a prefix without a trailing slash; the request path is appended.</summary>
    public string DestinationPrefix { get; } = Endpoint.AbsoluteUri.TrimEnd('/');
}

/// <summary>
/// A model the gateway serves: one at a fixed endpoint (always routable), or one of ModelManager's catalog, routable
/// only while it is ready (<see cref="Route"/> is null otherwise and a request first has it loaded).
/// </summary>
public sealed record RoutedModel(string Id, ModelOptions Options, bool Managed, string? State, ModelRoute? Route)
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
public interface IModelRouteTable
{
    IReadOnlyCollection<RoutedModel> Models { get; }

    bool TryGetModel(string model, [NotNullWhen(true)] out RoutedModel? routed);
}

/// <summary>
/// Fixed routes from <c>Gateway:Models</c>, plus ModelManager's catalog as its change feed and <c>ensure</c> answers
/// report it. Readers get an immutable snapshot per lookup; writers swap the managed part atomically. When ModelManager
/// is unreachable the last known catalog stays in place, so warm models keep serving.
/// </summary>
public sealed class ModelRouteTable : IModelRouteTable
{
    private readonly FrozenDictionary<string, RoutedModel> fixedModels;
    private readonly GatewayOptions options;
    private readonly Lock writeLock = new();
    private FrozenDictionary<string, RoutedModel> managedModels = FrozenDictionary<string, RoutedModel>.Empty;
    private long catalogVersion = -1;

    public ModelRouteTable(IOptions<GatewayOptions> options, IConfiguration configuration)
    {
        this.options = options.Value;
        ManagerConfigured = ModelManagerClientOptions.IsConfigured(configuration);
        fixedModels = this.options.Models
            .Where(entry => entry.Value.Endpoint is not null)
            .ToFrozenDictionary(
                entry => entry.Key,
                entry => new RoutedModel(entry.Key, entry.Value, Managed: false, State: null, new ModelRoute(entry.Key, entry.Value.Endpoint!, entry.Value)),
                StringComparer.Ordinal);
    }

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
    /// Replaces the managed part with ModelManager's whole catalog, keeping a model's later news from an <c>ensure</c>
    /// answer, unless <paramref name="replace"/> (the first answer after a reconnect) or the catalog version went down:
    /// ModelManager restarted and counts anew, so its catalog replaces everything.
    /// </summary>
    public void ApplyCatalog(FleetSnapshot fleet, bool replace)
    {
        lock (writeLock)
        {
            var known = replace || fleet.Version < catalogVersion ? FrozenDictionary<string, RoutedModel>.Empty : managedModels;
            managedModels = fleet.Models
                .Select(model => known.TryGetValue(model.Id, out var current) && current.Version > model.Version ? current : Managed(model))
                .ToFrozenDictionary(model => model.Id, StringComparer.Ordinal);
            catalogVersion = fleet.Version;
            CatalogKnown = true;
        }
    }

    /// <summary>
    /// Takes one model's news (an <c>ensure</c> answer) into the table unless it already holds later news, and returns
    /// the model as that answer has it: the caller acts on what ModelManager just told it.
    /// </summary>
    public RoutedModel Apply(ModelSnapshot model)
    {
        var answered = Managed(model);
        lock (writeLock)
        {
            if (!managedModels.TryGetValue(model.Id, out var current) || current.Version <= model.Version)
            {
                managedModels = managedModels.Where(entry => entry.Key != model.Id).Append(KeyValuePair.Create(model.Id, answered))
                    .ToFrozenDictionary(StringComparer.Ordinal);
            }
        }

        return answered;
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

    private RoutedModel Managed(ModelSnapshot model) =>
        Managed(model.Id, model.State, model.State == "ready" ? model.Endpoint : null, model.MaxConcurrency) with { Version = model.Version };

    /// <summary>
    /// A catalog model with the gateway's per-model settings (a <c>Gateway:Models:&lt;id&gt;</c> entry without an
    /// endpoint, or the defaults); how many requests go to it at once is the catalog's <c>MaxConcurrency</c>.
    /// </summary>
    private RoutedModel Managed(string id, string? state, Uri? endpoint, int? maxConcurrency)
    {
        var settings = options.Models.TryGetValue(id, out var configured) ? configured : new ModelOptions();
        if (maxConcurrency is { } concurrency && concurrency != settings.MaxConcurrent)
        {
            settings = settings.WithMaxConcurrent(concurrency);
        }

        return new RoutedModel(id, settings, Managed: true, state, endpoint is null ? null : new ModelRoute(id, endpoint, settings, Managed: true));
    }
}
