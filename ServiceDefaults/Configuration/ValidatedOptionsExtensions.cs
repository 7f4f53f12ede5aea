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
    public static OptionsBuilder<TOptions> AddValidatedOptions<TOptions>(this IServiceCollection services, string sectionPath)
        where TOptions : class
    {
        services.AddSingleton<IValidateOptions<TOptions>>(sp =>
            new ConfigurationValueValidator<TOptions>(sp.GetRequiredService<IConfiguration>(), sectionPath));

        return services.AddOptions<TOptions>()
            .Configure<IConfiguration>((options, configuration) =>
            {
                var section = configuration.GetSection(sectionPath);
                // A value that cannot be converted would make the binder throw; the validator reports it instead.
                if (ConfigurationValueChecker.Check(section, typeof(TOptions)).Count == 0)
                {
                    section.Bind(options);
                }
            })
            .ValidateOnStart();
    }
}

internal sealed class ConfigurationValueValidator<TOptions>(IConfiguration configuration, string sectionPath)
    : IValidateOptions<TOptions> where TOptions : class
{
    public ValidateOptionsResult Validate(string? name, TOptions options)
    {
        var errors = ConfigurationValueChecker.Check(configuration.GetSection(sectionPath), typeof(TOptions));
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
