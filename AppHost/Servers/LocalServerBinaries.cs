namespace LlmAspire.AppHost.Servers;

/// <summary>Finds the server programs the local-process resources run, or says which Debian package provides them.</summary>
internal static class LocalServerBinaries
{
    /// <summary>PostgreSQL's bin folder: Debian keeps it out of PATH as /usr/lib/postgresql/&lt;version&gt;/bin (newest wins).</summary>
    public static string PostgresBin()
    {
        var debian = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").OrderByDescending(MajorVersion).Select(d => Path.Combine(d, "bin"))
            : [];
        foreach (var candidate in debian.Append(Path.GetDirectoryName(FindOnPath("postgres") ?? "") ?? ""))
        {
            if (candidate.Length > 0 && File.Exists(Path.Combine(candidate, "postgres")) && File.Exists(Path.Combine(candidate, "initdb")))
            {
                return candidate;
            }
        }

        throw Missing("postgres and initdb", "postgresql");
    }

    /// <summary>Throws a message naming the package when <paramref name="program"/> is not on PATH.</summary>
    public static void Require(string program, string debianPackage)
    {
        if (FindOnPath(program) is null)
        {
            throw Missing(program, debianPackage);
        }
    }

    private static string? FindOnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(directory => Path.Combine(directory, program))
            .FirstOrDefault(File.Exists);

    private static int MajorVersion(string directory) => int.TryParse(Path.GetFileName(directory), out var version) ? version : 0;

    private static InvalidOperationException Missing(string programs, string debianPackage) => new(
        $"{programs} not found: install Debian's {debianPackage} package (eng/run.sh does), or set LlmAspire:ServerHosting=Containers "
        + "on a machine whose container runtime can run Aspire's images.");
}
