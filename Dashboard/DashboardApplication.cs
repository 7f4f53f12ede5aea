using LlmAspire.Dashboard.Components;
using Microsoft.FluentUI.AspNetCore.Components;

namespace LlmAspire.Dashboard;

/// <summary>The dashboard's composition, shared by <c>Program.cs</c> and the tests that host it in-process.</summary>
public static class DashboardApplication
{
    public static WebApplication Create(string[] args)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = args,
            // Static web assets (Fluent UI's scripts and styles) are found by application name, also when a test hosts it.
            ApplicationName = typeof(DashboardApplication).Assembly.GetName().Name,
        });
        // Serves the packages' static assets from a build as well as from a publish, in every environment: the AppHost
        // runs the dashboard from its build output.
        builder.WebHost.UseStaticWebAssets();
        builder.AddServiceDefaults();
        builder.AddDashboard();
        builder.Services.AddRazorComponents().AddInteractiveServerComponents();
        builder.Services.AddFluentUIComponents();

        var app = builder.Build();
        app.MapDefaultEndpoints();
        app.UseAntiforgery();
        app.MapStaticAssets();
        app.MapRazorComponents<App>().AddInteractiveServerRenderMode();
        return app;
    }
}
