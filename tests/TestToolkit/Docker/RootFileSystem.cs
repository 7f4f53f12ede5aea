using System.Diagnostics;
using System.Formats.Tar;

namespace LlmAspire.TestToolkit.Docker;

/// <summary>
/// A root file system for <c>docker import</c>, assembled from this machine's files: each path is written where it is
/// on the host, with the symbolic links on its way (<c>/lib64 → usr/lib64</c> …) mirrored, so the dynamic loader and
/// the .NET host find everything exactly as they do here.
/// </summary>
public sealed class RootFileSystem(TarWriter tar)
{
    private readonly HashSet<string> added = new(StringComparer.Ordinal);

    public void AddPath(string path)
    {
        path = Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
        if (path == "/" || !added.Add(path))
        {
            return;
        }

        var parent = Path.GetDirectoryName(path)!;
        AddPath(parent);
        var info = new FileInfo(path);
        if (info.LinkTarget is { } target)
        {
            tar.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, EntryName(path)) { LinkName = target });
            AddPath(Path.IsPathRooted(target) ? target : Path.Combine(FileSystemCalls.RealPath(parent), target));
            return;
        }

        if (Directory.Exists(path))
        {
            tar.WriteEntry(new PaxTarEntry(TarEntryType.Directory, EntryName(path) + "/") { Mode = (UnixFileMode)0b111_101_101 });
        }
        else
        {
            tar.WriteEntry(path, EntryName(path));
        }
    }

    public void AddTree(string directory)
    {
        AddPath(directory);
        foreach (var entry in Directory.EnumerateFileSystemEntries(directory, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }))
        {
            AddPath(entry);
        }
    }

    /// <summary>Copies a host directory's files to another place in the image.</summary>
    public void AddTreeAt(string directory, string imagePath)
    {
        tar.WriteEntry(new PaxTarEntry(TarEntryType.Directory, EntryName(imagePath) + "/") { Mode = (UnixFileMode)0b111_101_101 });
        foreach (var entry in Directory.EnumerateFileSystemEntries(directory, "*", new EnumerationOptions { RecurseSubdirectories = true }))
        {
            var name = EntryName(Path.Combine(imagePath, Path.GetRelativePath(directory, entry)));
            if (Directory.Exists(entry))
            {
                tar.WriteEntry(new PaxTarEntry(TarEntryType.Directory, name + "/") { Mode = (UnixFileMode)0b111_101_101 });
            }
            else
            {
                tar.WriteEntry(entry, name);
            }
        }
    }

    public void AddEmptyDirectory(string imagePath, UnixFileMode mode) =>
        tar.WriteEntry(new PaxTarEntry(TarEntryType.Directory, EntryName(imagePath) + "/") { Mode = mode });

    /// <summary>The shared libraries <c>ldd</c> says these binaries need, the dynamic loader included.</summary>
    public static async Task<IReadOnlySet<string>> SharedLibrariesOfAsync(IEnumerable<string> binaries)
    {
        var libraries = new HashSet<string>(StringComparer.Ordinal);
        foreach (var binary in binaries)
        {
            var start = new ProcessStartInfo("ldd") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            start.ArgumentList.Add(binary);
            using var ldd = Process.Start(start)!;
            var output = await ldd.StandardOutput.ReadToEndAsync();
            await ldd.WaitForExitAsync();
            foreach (var line in output.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                var arrow = line.IndexOf("=> ", StringComparison.Ordinal);
                var candidate = arrow >= 0 ? line[(arrow + 3)..] : line;
                var end = candidate.IndexOf(" (", StringComparison.Ordinal);
                candidate = end >= 0 ? candidate[..end] : candidate;
                if (candidate.StartsWith('/') && File.Exists(candidate))
                {
                    libraries.Add(candidate);
                }
            }
        }

        return libraries;
    }

    private static string EntryName(string path) => path.TrimStart('/');
}
