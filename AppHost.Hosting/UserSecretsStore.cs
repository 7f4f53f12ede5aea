using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.UserSecrets;

namespace LlmAspire.Hosting;

/// <summary>
/// The AppHost's user secrets (<c>~/.microsoft/usersecrets/&lt;UserSecretsId&gt;/secrets.json</c>, outside the
/// repository), where generated parameter values are kept as <c>Parameters:&lt;name&gt;</c> so every run on this
/// machine uses the same ones, as Aspire does.
/// </summary>
internal sealed class UserSecretsStore(string path)
{
    private static readonly Lock WriteLock = new();

    public string Path { get; } = path;

    /// <summary>The store of the assembly's <c>UserSecretsId</c>; null without one or when nothing may be persisted.</summary>
    public static UserSecretsStore? For(Assembly assembly, bool persist) =>
        persist && assembly.GetCustomAttribute<UserSecretsIdAttribute>() is { } attribute
            ? new UserSecretsStore(PathHelper.GetSecretsPathFromSecretsId(attribute.UserSecretsId))
            : null;

    public void AddTo(IConfigurationBuilder configuration) => configuration.AddJsonFile(Path, optional: true, reloadOnChange: false);

    public void Set(string key, string value)
    {
        lock (WriteLock)
        {
            var secrets = File.Exists(Path) ? JsonNode.Parse(File.ReadAllText(Path))?.AsObject() ?? [] : [];
            secrets[key] = value;
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
            // Only the owner may read the secrets.
            using var file = new FileStream(Path, new FileStreamOptions
            {
                Mode = FileMode.Create,
                Access = FileAccess.Write,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            });
            JsonSerializer.Serialize(file, secrets, new JsonSerializerOptions { WriteIndented = true });
        }
    }
}
