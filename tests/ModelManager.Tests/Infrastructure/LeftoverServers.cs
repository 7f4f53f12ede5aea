using System.Diagnostics;
using System.Text.Json;
using LlmAspire.ModelManager.Runtimes.Process;

namespace LlmAspire.ModelManager.Tests.Infrastructure;

/// <summary>Safety net of the process-runtime tests: a failed test must not leave a model server running.</summary>
public static class LeftoverServers
{
    /// <summary>
    /// Ends every server recorded in <paramref name="stateDirectory"/> that is still running (by pid, checked against
    /// its start time so a reused pid is left alone), then deletes the directory.
    /// </summary>
    public static async Task EndAndDeleteAsync(DirectoryInfo stateDirectory)
    {
        foreach (var stateFile in stateDirectory.EnumerateFiles("*.json"))
        {
            using var state = JsonDocument.Parse(await File.ReadAllTextAsync(stateFile.FullName, CancellationToken.None));
            var pid = state.RootElement.GetProperty("pid").GetInt32();
            if (LinuxProcess.IsAlive(pid, state.RootElement.GetProperty("startTime").GetUInt64()))
            {
                using var process = Process.GetProcessById(pid);
                process.Kill(entireProcessTree: true);
            }
        }

        stateDirectory.Delete(recursive: true);
    }
}
