using System.ComponentModel.DataAnnotations;

namespace LlmAspire.Cache;

/// <summary>The <c>Gateway:Cache</c> configuration section. The cache is active only when <c>ConnectionStrings:cache</c> is set.</summary>
public sealed class ResponseCacheOptions
{
    public const string SectionName = "Gateway:Cache";

    /// <summary>Turns the response cache off for every model while Redis still serves the rate limiter.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>How long an answer is kept, unless its model says otherwise.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "30.00:00:00")]
    public TimeSpan DefaultTtl { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Largest answer stored, in bytes of its completion object; larger answers are served but not kept.</summary>
    [Range(1_024, 67_108_864)]
    public int MaxEntryBytes { get; set; } = 1_048_576;

    /// <summary>Per-model overrides, keyed by the model id clients send.</summary>
    public Dictionary<string, ModelCacheOptions> Models { get; set; } = new(StringComparer.Ordinal);

    /// <summary>The rules for one model: its overrides where given, the defaults otherwise.</summary>
    public ModelCachePolicy For(string model)
    {
        var overrides = Models.GetValueOrDefault(model);
        return new ModelCachePolicy(Enabled && (overrides?.Enabled ?? true), overrides?.Ttl ?? DefaultTtl, overrides?.Shared ?? false, MaxEntryBytes);
    }
}

/// <summary>Keys under <c>Gateway:Cache:Models:&lt;id&gt;</c>.</summary>
public sealed class ModelCacheOptions
{
    public bool Enabled { get; set; } = true;

    [Range(typeof(TimeSpan), "00:00:01", "30.00:00:00")]
    public TimeSpan? Ttl { get; set; }

    /// <summary>
    /// When true, every tenant shares this model's entries (a public model with public prompts). Off by default: an
    /// answer is only ever served back to the tenant whose request produced it.
    /// </summary>
    public bool Shared { get; set; }
}

public readonly record struct ModelCachePolicy(bool Enabled, TimeSpan Ttl, bool Shared, int MaxEntryBytes);
