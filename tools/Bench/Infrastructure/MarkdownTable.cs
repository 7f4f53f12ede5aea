using System.Globalization;
using System.Text;

namespace LlmAspire.Bench.Infrastructure;

/// <summary>
/// A GitHub-flavoured markdown table: the first column left-aligned, the others right-aligned (numbers) unless
/// <see cref="TextColumns"/> is set.
/// </summary>
internal sealed class MarkdownTable(params string[] headers)
{
    private readonly List<string[]> rows = [];

    public bool TextColumns { get; init; }

    public MarkdownTable Add(params string[] cells)
    {
        if (cells.Length != headers.Length)
        {
            throw new ArgumentException($"Expected {headers.Length} cells, got {cells.Length}.", nameof(cells));
        }

        rows.Add(cells);
        return this;
    }

    public override string ToString()
    {
        var text = new StringBuilder();
        text.AppendLine($"| {string.Join(" | ", headers)} |");
        text.AppendLine($"|{string.Join("|", headers.Select((_, i) => i == 0 || TextColumns ? "---" : "---:"))}|");
        foreach (var row in rows)
        {
            text.AppendLine($"| {string.Join(" | ", row)} |");
        }

        return text.ToString();
    }

    /// <summary>Microseconds, whole; "—" when there is no value.</summary>
    public static string Micros(double value) => double.IsFinite(value) ? value.ToString("F0", CultureInfo.InvariantCulture) : "—";

    /// <summary>A signed difference in microseconds.</summary>
    public static string Delta(double value) => double.IsFinite(value) ? value.ToString("+0;−0;0", CultureInfo.InvariantCulture) : "—";

    public static string Ratio(double value) => double.IsFinite(value) ? value.ToString("F2", CultureInfo.InvariantCulture) : "—";

    public static string Rate(double value) => double.IsFinite(value) ? value.ToString("F0", CultureInfo.InvariantCulture) : "—";
}
