namespace LlmAspire.Dashboard.Configuration;

/// <summary>
/// A service found by service discovery under Aspire's convention (<c>services__&lt;name&gt;__http__0</c>): clients use
/// <c>http://&lt;name&gt;</c> as base address and the resolver substitutes the configured endpoint.
/// </summary>
public sealed record ServiceReference(string Name)
{
    public static readonly ServiceReference ModelManager = new("modelmanager");
    public static readonly ServiceReference Gateway = new("gateway");

    public Uri BaseAddress => new($"http://{Name}");

    public bool IsConfigured(IConfiguration configuration) => configuration.GetSection($"services:{Name}").GetChildren().Any();

    public string NotConfiguredMessage => $"Service '{Name}' is not configured: set services__{Name}__http__0 (the AppHost does this).";
}
