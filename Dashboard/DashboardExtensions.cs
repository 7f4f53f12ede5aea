using System.Net.Http.Headers;
using LlmAspire.Dashboard.Configuration;
using LlmAspire.Dashboard.Gateway;
using LlmAspire.Dashboard.Models;
using LlmAspire.Dashboard.Resources;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace LlmAspire.Dashboard;

public static class DashboardExtensions
{
    /// <summary>Registers the validated options, one client per source and ModelManager's shared change feed.</summary>
    public static IHostApplicationBuilder AddDashboard(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddValidatedOptions<DashboardOptions>(DashboardOptions.SectionName);
        services.TryAddSingleton(TimeProvider.System);

        services.AddSourceClient<ResourceServiceClient>((client, options) => client.BaseAddress = options.ResourceServiceUrl);
        services.AddSourceClient<ModelManagerClient>((client, options) =>
            Authorize(client, ServiceReference.ModelManager, options.ModelManagerToken));
        services.AddSourceClient<GatewayStatsClient>((client, options) =>
            Authorize(client, ServiceReference.Gateway, options.GatewayAdminKey));

        services.AddSingleton<ModelFleetFeed>();
        services.AddHostedService(sp => sp.GetRequiredService<ModelFleetFeed>());
        return builder;
    }

    /// <summary>
    /// A typed client without ServiceDefaults' standard resilience handler: its 30-second total timeout would cut the
    /// change feed, the log streams and a model start. Short calls set their own deadline (<c>Dashboard:RequestTimeout</c>).
    /// </summary>
    private static void AddSourceClient<TClient>(this IServiceCollection services, Action<HttpClient, DashboardOptions> configure)
        where TClient : class
    {
        var client = services.AddHttpClient<TClient>((sp, client) =>
        {
            client.Timeout = Timeout.InfiniteTimeSpan;
            configure(client, sp.GetRequiredService<IOptions<DashboardOptions>>().Value);
        });
        // Marked experimental, but it is the documented way to take back ConfigureHttpClientDefaults' handler for one client.
#pragma warning disable EXTEXP0001
        client.RemoveAllResilienceHandlers();
#pragma warning restore EXTEXP0001
    }

    private static void Authorize(HttpClient client, ServiceReference service, string? token)
    {
        client.BaseAddress = service.BaseAddress;
        if (!string.IsNullOrEmpty(token))
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
    }
}
