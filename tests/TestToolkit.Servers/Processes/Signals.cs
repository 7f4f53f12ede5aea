using System.Runtime.InteropServices;

namespace LlmAspire.TestToolkit.Servers.Processes;

/// <summary>Signals sent to a process by its PID with kill(2), for what <see cref="System.Diagnostics.Process.Kill()"/> cannot do.</summary>
public static partial class Signals
{
    public const int SigInt = 2;
    public const int SigKill = 9;
    public const int SigTerm = 15;
    public const int SigCont = 18;
    public const int SigStop = 19;

    /// <summary>Sends <paramref name="signal"/> to the process with <paramref name="pid"/>; false when it is already gone.</summary>
    public static bool Send(int pid, int signal) => kill(pid, signal) == 0;

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int sig);
}
