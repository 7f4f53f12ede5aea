using LlmAspire.ServiceDefaults.Configuration;
using Microsoft.Extensions.Configuration;

namespace LlmAspire.AppHost.Servers;

/// <summary>The AppHost's own settings (section <c>LlmAspire</c>), checked like every service's options.</summary>
internal sealed class PlatformSettings
{
    public const string SectionName = "LlmAspire";

    /// <summary>Where Redis and PostgreSQL run: <c>Auto</c>, <c>Containers</c> or <c>LocalProcesses</c>.</summary>
    public ServerHosting ServerHosting { get; set; } = ServerHosting.Auto;

    /// <summary>
    /// Data of the local Redis and PostgreSQL processes, and the developer API key; kept across runs. Default: a folder
    /// per AppHost under <c>$XDG_DATA_HOME/llmaspire</c> (<c>/var/lib/llmaspire</c> for root, whose home the
    /// <c>postgres</c> user cannot enter).
    /// </summary>
    public string? DataDirectory { get; set; }

    /// <summary>Reads and checks the section; invalid values stop the AppHost with a message naming key, value and what is allowed.</summary>
    public static PlatformSettings Read(IConfiguration configuration)
    {
        var section = configuration.GetSection(SectionName);
        var errors = ConfigurationValueChecker.Check(section, typeof(PlatformSettings));
        if (errors.Count > 0)
        {
            throw new InvalidOperationException($"Invalid AppHost configuration: {string.Join(" ", errors)}");
        }

        return section.Get<PlatformSettings>() ?? new PlatformSettings();
    }
}
