using System.Globalization;
using System.Runtime.InteropServices;

namespace LlmAspire.ModelManager.Runtimes.Process;

/// <summary>What the process runtime needs from Linux: liveness by pid and start time (so a reused pid is never taken for the server), and signals.</summary>
internal static partial class LinuxProcess
{
    public const int SigTerm = 15;
    public const int SigKill = 9;

    /// <summary>The start time of a process in clock ticks since boot (field 22 of <c>/proc/&lt;pid&gt;/stat</c>), or null when it is gone or a zombie.</summary>
    public static ulong? StartTime(int pid)
    {
        string stat;
        try
        {
            stat = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }

        // "pid (comm) state ppid …": comm may hold spaces and parentheses, so fields are counted after the last ')'.
        var fields = stat[(stat.LastIndexOf(')') + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length < 20 || fields[0] is "Z" or "X" or "x")
        {
            return null;
        }

        return ulong.TryParse(fields[19], NumberStyles.None, CultureInfo.InvariantCulture, out var ticks) ? ticks : null;
    }

    public static bool IsAlive(int pid, ulong startTime) => StartTime(pid) == startTime;

    /// <summary>Sends <paramref name="signal"/> to the process, or to its whole process group when <paramref name="group"/> is set.</summary>
    public static bool Signal(int pid, int signal, bool group) => Kill(group ? -pid : pid, signal) == 0;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
