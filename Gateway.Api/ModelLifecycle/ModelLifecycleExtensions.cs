using LlmAspire.Gateway.Api.Configuration;
using LlmAspire.Gateway.Api.Forwarding;
using Microsoft.Extensions.Options;

namespace LlmAspire.Gateway.Api.ModelLifecycle;

internal static class ModelLifecycleExtensions
{
    /// <summary>
    /// Registers the ModelManager client and on-demand loading and, when ModelManager is configured
    /// (<c>services:modelmanager</c>, Aspire's service-discovery convention), what keeps the routing table fed and
    /// ModelManager informed: the change feed and activity reports.
    /// </summary>
    public static IHostApplicationBuilder AddModelLifecycle(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddValidatedOptions<ModelManagerClientOptions>(ModelManagerClientOptions.SectionName);
        services.AddSingleton<IValidateOptions<ModelManagerClientOptions>, ModelManagerClientOptionsValidator>();
        services.AddSingleton<ModelManagerClient>();
        services.AddSingleton<ModelActivation>();
        services.AddSingleton<IModelServerRecovery>(sp => sp.GetRequiredService<ModelActivation>());

        // Long calls by design (ensure waits for a load, the change feed for a change): no 30-second resilience
        // timeout from the service defaults, no retries of a call that starts a GPU workload; each call sets its limit.
#pragma warning disable EXTEXP0001 // Marked experimental, but it is the library's one way to take the defaults' handler off a client.
        services.AddHttpClient(ModelManagerClient.HttpClientName, client =>
            {
                client.BaseAddress = new Uri($"https+http://{ModelManagerDiscovery.ServiceName}");
                client.Timeout = Timeout.InfiniteTimeSpan;
            })
            .RemoveAllResilienceHandlers();
#pragma warning restore EXTEXP0001

        if (ModelManagerDiscovery.IsConfigured(builder.Configuration))
        {
            services.AddSingleton<ModelManagerFeed>();
            services.AddHostedService(sp => sp.GetRequiredService<ModelManagerFeed>());
            services.AddHealthChecks().AddCheck<ModelManagerFeed.HealthCheck>(ModelManagerDiscovery.ServiceName);
            services.AddHostedService<ActivityReporter>();
        }

        return builder;
    }
}
