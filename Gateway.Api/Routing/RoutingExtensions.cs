namespace LlmAspire.Gateway.Api.Routing;

internal static class RoutingExtensions
{
    /// <summary>Registers the routing table: fixed models from <c>Gateway:Models</c>, ModelManager's catalog as model lifecycle feeds it.</summary>
    public static IServiceCollection AddModelRoutes(this IServiceCollection services)
    {
        services.AddSingleton<ModelRouteTable>();
        services.AddSingleton<IModelRouteTable>(sp => sp.GetRequiredService<ModelRouteTable>());
        return services;
    }
}
