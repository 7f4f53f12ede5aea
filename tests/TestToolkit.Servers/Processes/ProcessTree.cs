using System.Globalization;

namespace LlmAspire.TestToolkit.Servers.Processes;

/// <summary>Processes as /proc shows them: what a process started, so it can be signalled too or checked to be gone.</summary>
public static class ProcessTree
{
    /// <summary>The ids of the processes whose parent is <paramref name="pid"/>.</summary>
    public static IEnumerable<int> Children(int pid) => ParentsByPid().Where(entry => entry.Value == pid).Select(entry => entry.Key);

    /// <summary>The processes and all their descendants (by parent pid).</summary>
    public static IReadOnlySet<int> WithDescendants(IEnumerable<int> roots)
    {
        var parents = ParentsByPid();
        var found = new HashSet<int>(roots);
        for (var grew = true; grew;)
        {
            grew = false;
            foreach (var (pid, parent) in parents)
            {
                if (found.Contains(parent) && found.Add(pid))
                {
                    grew = true;
                }
            }
        }

        return found;
    }

    /// <summary>Alive and not a zombie.</summary>
    public static bool IsRunning(int pid) => StatFields(pid) is { } fields && fields[0] != "Z";

    private static Dictionary<int, int> ParentsByPid()
    {
        var parents = new Dictionary<int, int>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(directory), out var pid) && StatFields(pid) is { } fields)
            {
                parents[pid] = int.Parse(fields[1], CultureInfo.InvariantCulture);
            }
        }

        return parents;
    }

    /// <summary>The fields of <c>/proc/&lt;pid&gt;/stat</c> after "pid (comm) ": state, parent pid, …; null when the process is gone.</summary>
    private static string[]? StatFields(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // comm may hold spaces and parentheses, so split after the last ')'.
            return stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        }
        catch (IOException)
        {
            return null;
        }
    }
}
