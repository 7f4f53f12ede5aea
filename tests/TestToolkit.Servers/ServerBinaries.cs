namespace LlmAspire.TestToolkit.Servers;

/// <summary>Where the server programs that Debian's packages install are found.</summary>
public static class ServerBinaries
{
    /// <summary>The path of <paramref name="name"/> in the given directories or on PATH; throws with how to install it.</summary>
    public static string Find(string name, string package, params string[] directories)
    {
        var path = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries);
        foreach (var directory in directories.Concat(path))
        {
            var candidate = Path.Combine(directory, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException($"'{name}' was not found; install Debian's '{package}' package (eng/test.sh does).");
    }
}
