using System.Runtime.InteropServices;

namespace LlmAspire.Hosting.Orchestration;

internal static partial class Native
{
    public static bool IsRoot => geteuid() == 0;

    /// <summary>Signals the process group led by <paramref name="pid"/> (children are started as group leaders); false when it is gone.</summary>
    public static bool SignalGroup(int pid, int signal) => kill(-pid, signal) == 0;

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int sig);

    [LibraryImport("libc")]
    private static partial uint geteuid();
}
