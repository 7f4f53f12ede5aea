using LlmAspire.Gateway.Api.Routing;
using LlmAspire.ModelManager.Client;

namespace LlmAspire.Gateway.Api.ModelLifecycle;

/// <summary>ModelManager's models as the routing table holds them.</summary>
internal static class CatalogModels
{
    /// <summary>A model as ModelManager reported it, routable only while ModelManager reports it ready.</summary>
    public static RoutedModel ToRoutedModel(this ModelSnapshot model, ModelRouteTable routes) =>
        routes.Managed(model.Id, model.State, model.State == ModelStateNames.Ready ? model.Endpoint : null, model.MaxConcurrency) with { Version = model.Version };
}
