using System.Text.Json;

namespace LlmAspire.Gateway.Api.Ledger;

/// <summary>
/// Rows that could not reach PostgreSQL, on local disk. Each batch becomes one segment file, written to a temporary
/// name, flushed to the device and then renamed, so a crash can at worst tear the last line of the segment being written. Segment names
/// sort in write order, which is the replay order. A segment is deleted only after its rows are committed; a crash in
/// between replays it again, and the ledger's primary key (the request id) turns the repeat into a no-op. Rows that
/// PostgreSQL refuses for what they hold are kept apart, one file each, under <see cref="QuarantineDirectory"/>.
/// </summary>
internal sealed class LedgerSpool
{
    public const string QuarantineDirectory = "quarantine";
    private const string Extension = ".jsonl";
    private static readonly JsonSerializerOptions SerializerOptions = new(JsonSerializerDefaults.Web);

    private readonly string directory;
    private readonly Lock gate = new();
    private long sequence;
    private int segments;

    public LedgerSpool(string directory)
    {
        this.directory = directory;
        Directory.CreateDirectory(directory);
        foreach (var partial in Directory.EnumerateFiles(directory, "*.tmp"))
        {
            // The process died while writing this segment. Its rows belong to completed requests, so keep whatever
            // was written; Read stops at a torn last line.
            File.Move(partial, Path.ChangeExtension(partial, Extension), overwrite: true);
        }

        segments = Directory.EnumerateFiles(directory, "*" + Extension).Count();
    }

    public bool HasSegments => Volatile.Read(ref segments) > 0;

    public int SegmentCount => Volatile.Read(ref segments);

    public void Append(IReadOnlyCollection<UsageEntry> batch)
    {
        if (batch.Count == 0)
        {
            return;
        }

        lock (gate)
        {
            var name = $"{DateTime.UtcNow.Ticks:D19}-{++sequence:D10}-{Environment.ProcessId}";
            var temporary = Path.Combine(directory, name + ".tmp");
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 64 * 1024))
            {
                foreach (var entry in batch)
                {
                    JsonSerializer.Serialize(stream, entry, SerializerOptions);
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
    public static List<UsageEntry> Read(string segment)
    {
        var entries = new List<UsageEntry>();
        foreach (var line in File.ReadLines(segment))
        {
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            try
            {
                entries.Add(JsonSerializer.Deserialize<UsageEntry>(line, SerializerOptions)!);
            }
            catch (JsonException)
            {
                break;
            }
        }

        return entries;
    }

    /// <summary>
    /// Keeps a row PostgreSQL refused for what it holds, with the reason, as <c>quarantine/&lt;request id&gt;.json</c>:
    /// it is never replayed, and stays for an operator to look at (and insert by hand once the cause is fixed).
    /// </summary>
    public void Quarantine(UsageEntry entry, string reason)
    {
        var quarantine = Directory.CreateDirectory(Path.Combine(directory, QuarantineDirectory)).FullName;
        var path = Path.Combine(quarantine, $"{entry.RequestId:N}.json");
        File.WriteAllBytes(path + ".tmp", JsonSerializer.SerializeToUtf8Bytes(new QuarantinedRow(entry, reason), SerializerOptions));
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
internal sealed record QuarantinedRow(UsageEntry Row, string Reason);
