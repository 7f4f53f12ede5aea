namespace LlmAspire.AppHost.Tests.Infrastructure;

/// <summary>
/// A fresh <c>LlmAspire:DataDirectory</c> for one test, deleted afterwards. Searchable by others, because under root
/// the local PostgreSQL runs as the postgres user and must reach its folder inside.
/// </summary>
internal sealed class DataFolder : IDisposable
{
    public DataFolder()
    {
        var directory = Directory.CreateTempSubdirectory("llmaspire-apphost-test-");
        File.SetUnixFileMode(directory.FullName, File.GetUnixFileMode(directory.FullName) | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
        Path = directory.FullName;
    }

    public string Path { get; }

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
