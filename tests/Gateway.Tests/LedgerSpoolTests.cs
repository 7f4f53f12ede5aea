using LlmAspire.Gateway.Api.Ledger;
using LlmAspire.Storage;

namespace LlmAspire.Gateway.Tests;

/// <summary>The ledger's local spool on its own: order, torn writes, crash leftovers.</summary>
public sealed class LedgerSpoolTests : IDisposable
{
    private readonly string directory = Directory.CreateTempSubdirectory("llmaspire-spool-").FullName;

    public void Dispose() => Directory.Delete(directory, recursive: true);

    [Fact]
    public void Segments_come_back_in_write_order_with_their_rows()
    {
        var spool = new DiskSpool<UsageEntry>(directory);
        var batches = Enumerable.Range(0, 5).Select(batch => Enumerable.Range(0, 3).Select(_ => Entry()).ToList()).ToList();
        foreach (var batch in batches)
        {
            spool.Append(batch);
        }

        var segments = spool.Segments();
        Assert.Equal(5, spool.SegmentCount);
        Assert.Equal(batches.Select(batch => batch.Select(e => e.RequestId)), segments.Select(segment => DiskSpool<UsageEntry>.Read(segment).Select(e => e.RequestId)));
        Assert.Equal(batches[0][0], DiskSpool<UsageEntry>.Read(segments[0])[0]);

        spool.Delete(segments[0]);
        spool.Delete(segments[0]);
        Assert.Equal(4, spool.SegmentCount);
    }

    [Fact]
    public void A_segment_torn_by_a_crash_is_recovered_up_to_its_last_whole_line()
    {
        var spool = new DiskSpool<UsageEntry>(directory);
        spool.Append([Entry(), Entry()]);
        var segment = Assert.Single(spool.Segments());
        var text = File.ReadAllText(segment);
        // A crash while writing: the rows so far, under the temporary name, the last one cut short.
        File.Delete(segment);
        File.WriteAllText(Path.ChangeExtension(segment, ".tmp"), text + text[..(text.Length / 4)]);

        var reopened = new DiskSpool<UsageEntry>(directory);

        Assert.Equal(1, reopened.SegmentCount);
        Assert.Equal(2, DiskSpool<UsageEntry>.Read(Assert.Single(reopened.Segments())).Count);
    }

    [Fact]
    public void An_empty_batch_writes_nothing()
    {
        var spool = new DiskSpool<UsageEntry>(directory);
        spool.Append([]);

        Assert.False(spool.HasSegments);
        Assert.Empty(Directory.EnumerateFileSystemEntries(directory));
    }

    private static UsageEntry Entry() => new(Guid.CreateVersion7(), DateTime.UtcNow, "key", "tenant", "m", "chat", 3, 4, false, 200, 12.5, null);
}
