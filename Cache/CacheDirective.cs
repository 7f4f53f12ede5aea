namespace LlmAspire.Cache;

/// <summary>What a client asked of the cache with the <see cref="RequestHeader"/> request header.</summary>
public enum CacheDirective
{
    /// <summary>Deterministic requests are served from and stored in the cache; others bypass it.</summary>
    Default,

    /// <summary>Neither read nor stored.</summary>
    Bypass,

    /// <summary>Read and stored even when the request samples (the client accepts a repeated answer).</summary>
    Force,
}

public static class CacheHeaders
{
    /// <summary>Request header: <c>bypass</c> or <c>force</c>; anything else is the default behaviour.</summary>
    public const string RequestHeader = "x-llmaspire-cache";

    /// <summary>Response header: <c>hit</c>, <c>miss</c> or <c>bypass</c>.</summary>
    public const string ResponseHeader = "x-cache";

    public static CacheDirective Parse(string? value) => value?.Trim().ToLowerInvariant() switch
    {
        "bypass" or "no-cache" or "no-store" => CacheDirective.Bypass,
        "force" => CacheDirective.Force,
        _ => CacheDirective.Default,
    };
}
