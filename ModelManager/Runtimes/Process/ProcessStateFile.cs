using System.Text.Json;

namespace LlmAspire.ModelManager.Runtimes.Process;

/// <summary>
/// What a restarted ModelManager needs to adopt a running server process: written when the process starts, removed
/// when it is stopped or found dead. The pid alone is not enough: the start time rules out a reused pid.
/// </summary>
internal sealed record ProcessStateFile(string Model, int Pid, ulong StartTime, int Port, string Command, DateTimeOffset StartedAt)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public static ProcessStateFile? Read(string path)
    {
        try
        {
            return JsonSerializer.Deserialize<ProcessStateFile>(File.ReadAllText(path), Json);
        }
        catch (FileNotFoundException)
        {
            return null;
        }
        catch (DirectoryNotFoundException)
        {
            return null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Writes through a temporary file and a rename, so a crash never leaves half a file.</summary>
    public void Write(string path)
    {
        var temporary = $"{path}.{Environment.ProcessId}.tmp";
        File.WriteAllText(temporary, JsonSerializer.Serialize(this, Json));
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>Removes the file if it still describes process <paramref name="pid"/> (a newer start may have replaced it).</summary>
    public static void DeleteIfOwnedBy(string path, int pid)
    {
        if (Read(path) is { } state && state.Pid == pid)
        {
            File.Delete(path);
        }
    }
}
