using System.Text.Json;

namespace LlmAspire.Storage;

/// <summary>
/// Rows that could not reach PostgreSQL, on local disk (the gateway's usage ledger, ModelManager's lifecycle events).
/// Each batch becomes one segment file of JSON lines, written to a temporary name, flushed to the device and then
/// renamed, so a crash can at worst tear the last line of the segment being written. Segment names sort in write
/// order, which is the replay order. The writer deletes a segment only after its rows are committed; a crash in between
/// replays it again, so a table written from a spool needs a key that turns the repeat into a no-op. Rows that
/// PostgreSQL refuses for what they hold are kept apart, one file each, under <see cref="QuarantineDirectory"/>.
/// </summary>
public sealed class DiskSpool<T>
{
    public const string QuarantineDirectory = "quarantine";
    private const string Extension = ".jsonl";
    private static readonly JsonSerializerOptions SerializerOptions = new(JsonSerializerDefaults.Web);

    private readonly string directory;
    private readonly Lock gate = new();
    private long sequence;
    private int segments;

    public DiskSpool(string directory)
    {
        this.directory = directory;
        Directory.CreateDirectory(directory);
        foreach (var partial in Directory.EnumerateFiles(directory, "*.tmp"))
        {
            // The process died while writing this segment. Its rows happened, so keep whatever was written; Read stops
            // at a torn last line.
            File.Move(partial, Path.ChangeExtension(partial, Extension), overwrite: true);
        }

        segments = Directory.EnumerateFiles(directory, "*" + Extension).Count();
    }

    public bool HasSegments => Volatile.Read(ref segments) > 0;

    public int SegmentCount => Volatile.Read(ref segments);

    /// <summary>
    /// Writes <paramref name="batch"/> as one segment. Segments replay in the order of their names: the time of writing,
    /// or <paramref name="orderedAt"/> (the time of the batch's first row) for a writer that may spool rows after newer
    /// ones and wants them replayed in the order they happened.
    /// </summary>
    public void Append(IReadOnlyCollection<T> batch, DateTimeOffset? orderedAt = null)
    {
        if (batch.Count == 0)
        {
            return;
        }

        lock (gate)
        {
            var name = $"{(orderedAt?.UtcTicks ?? DateTime.UtcNow.Ticks):D19}-{++sequence:D10}-{Environment.ProcessId}";
            var temporary = Path.Combine(directory, name + ".tmp");
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 64 * 1024))
            {
                foreach (var row in batch)
                {
                    JsonSerializer.Serialize(stream, row, SerializerOptions);
                    stream.WriteByte((byte)'\n');
                }

                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, Path.Combine(directory, name + Extension));
            segments++;
        }
    }

    /// <summary>Segment files, oldest first.</summary>
    public IReadOnlyList<string> Segments() =>
        Directory.EnumerateFiles(directory, "*" + Extension).Order(StringComparer.Ordinal).ToList();

    /// <summary>The rows of a segment; a torn last line (crash while writing a pre-rename segment) is skipped.</summary>
    public static List<T> Read(string segment)
    {
        var rows = new List<T>();
        foreach (var line in File.ReadLines(segment))
        {
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            try
            {
                rows.Add(JsonSerializer.Deserialize<T>(line, SerializerOptions)!);
            }
            catch (JsonException)
            {
                break;
            }
        }

        return rows;
    }

    /// <summary>
    /// Keeps a row PostgreSQL refused for what it holds, with the reason, as <c>quarantine/&lt;name&gt;.json</c>: it is
    /// never replayed, and stays for an operator to look at (and insert by hand once the cause is fixed).
    /// </summary>
    public void Quarantine(T row, string name, string reason)
    {
        var quarantine = Directory.CreateDirectory(Path.Combine(directory, QuarantineDirectory)).FullName;
        var path = Path.Combine(quarantine, $"{name}.json");
        File.WriteAllBytes(path + ".tmp", JsonSerializer.SerializeToUtf8Bytes(new QuarantinedRow<T>(row, reason), SerializerOptions));
        File.Move(path + ".tmp", path, overwrite: true);
    }

    public void Delete(string segment)
    {
        lock (gate)
        {
            if (File.Exists(segment))
            {
                File.Delete(segment);
                segments--;
            }
        }
    }
}

/// <summary>A quarantined row and why PostgreSQL refused it.</summary>
public sealed record QuarantinedRow<T>(T Row, string Reason);

/// <summary>Where a service keeps its spools unless configured otherwise.</summary>
public static class SpoolDirectories
{
    /// <summary><c>&lt;local application data&gt;/LlmAspire/&lt;name&gt;</c>, created when missing: kept across restarts, per user.</summary>
    public static string Default(string name) =>
        Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.Create), "LlmAspire", name);
}
