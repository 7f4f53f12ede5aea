namespace LlmAspire.Dashboard.Resources;

/// <summary>A resource as the AppHost's resource service shows it (<c>GET /api/resources</c>, camelCase JSON).</summary>
/// <param name="State"><c>starting</c>, <c>running</c>, <c>exited</c>, <c>failed</c> or <c>waiting</c>.</param>
/// <param name="Health"><c>healthy</c>, <c>unhealthy</c> or <c>unknown</c>.</param>
public sealed record ResourceSnapshot(
    string Name,
    string Type,
    string State,
    string? Health,
    IReadOnlyList<ResourceEndpoint>? Endpoints,
    DateTimeOffset? StartedAt,
    int Restarts,
    int? ExitCode);

public sealed record ResourceEndpoint(string Name, string Url);

/// <summary>One line of a resource's console output; <paramref name="Stream"/> is <c>stdout</c> or <c>stderr</c>.</summary>
public sealed record LogLine(DateTimeOffset Time, string Stream, string Line);
