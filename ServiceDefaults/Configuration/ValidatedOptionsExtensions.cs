using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using LlmAspire.ServiceDefaults.Configuration;

namespace Microsoft.Extensions.DependencyInjection;

public static class ValidatedOptionsExtensions
{
    /// <summary>
    /// Binds <typeparamref name="TOptions"/> from <paramref name="sectionPath"/> and refuses to start the host when a
    /// value is malformed, out of range or unknown. Every raw value is checked before binding, so a non-numeric value
    /// is reported like an out-of-range one — naming the key, the value and the allowed range — instead of surfacing
    /// as a binder exception.
    /// </summary>
    /// <remarks>
    /// A section may sit inside another validated section (<c>Gateway:Auth</c> inside <c>Gateway</c>): each is then
    /// checked by its own options type, and the outer one does not report it as unknown.
    /// </remarks>
    public static OptionsBuilder<TOptions> AddValidatedOptions<TOptions>(this IServiceCollection services, string sectionPath)
        where TOptions : class
    {
        var sections = services.LastOrDefault(d => d.ServiceType == typeof(ValidatedSections))?.ImplementationInstance as ValidatedSections;
        if (sections is null)
        {
            sections = new ValidatedSections();
            services.AddSingleton(sections);
        }

        sections.Add(sectionPath);
        services.AddSingleton<IValidateOptions<TOptions>>(sp =>
            new ConfigurationValueValidator<TOptions>(sp.GetRequiredService<IConfiguration>(), sectionPath, sections));

        return services.AddOptions<TOptions>()
            .Configure<IConfiguration>((options, configuration) =>
            {
                var section = configuration.GetSection(sectionPath);
                // A value that cannot be converted would make the binder throw; the validator reports it instead.
                if (ConfigurationValueChecker.Check(section, typeof(TOptions), sections.Paths).Count == 0)
                {
                    section.Bind(options);
                }
            })
            .ValidateOnStart();
    }
}

/// <summary>The configuration sections bound by <c>AddValidatedOptions</c>, each checked by its own options type.</summary>
internal sealed class ValidatedSections
{
    private readonly HashSet<string> paths = new(StringComparer.OrdinalIgnoreCase);

    public IReadOnlySet<string> Paths => paths;

    public void Add(string sectionPath) => paths.Add(sectionPath);
}

internal sealed class ConfigurationValueValidator<TOptions>(IConfiguration configuration, string sectionPath, ValidatedSections sections)
    : IValidateOptions<TOptions> where TOptions : class
{
    public ValidateOptionsResult Validate(string? name, TOptions options)
    {
        var errors = ConfigurationValueChecker.Check(configuration.GetSection(sectionPath), typeof(TOptions), sections.Paths);
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
