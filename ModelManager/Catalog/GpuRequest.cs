using System.Globalization;

namespace LlmAspire.ModelManager.Catalog;

/// <summary>
/// A catalog entry's GPU request: <c>all</c>, a count (<c>2</c>), or device ids (<c>device=1</c>, <c>device=0,1</c>,
/// <c>device=GPU-&lt;uuid&gt;</c>), the three forms of <c>docker run --gpus</c>.
/// </summary>
internal sealed record GpuRequest(bool All, int Count, IReadOnlyList<string> DeviceIds)
{
    public const string Syntax = "'all', a count such as '2', or device ids as 'device=1', 'device=0,1' or 'device=GPU-<uuid>' (a list with a comma may leave out 'device=')";

    public static bool TryParse(string? text, out GpuRequest? request)
    {
        request = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            return true;
        }

        var value = text.Trim();
        if (value.Equals("all", StringComparison.OrdinalIgnoreCase))
        {
            request = new GpuRequest(true, 0, []);
            return true;
        }

        if (value.StartsWith("device=", StringComparison.OrdinalIgnoreCase))
        {
            value = value["device=".Length..];
        }
        else if (!value.Contains(',', StringComparison.Ordinal) && int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var count))
        {
            if (count < 1)
            {
                return false;
            }

            request = new GpuRequest(false, count, []);
            return true;
        }
        else if (!value.Contains(',', StringComparison.Ordinal)
            && !value.StartsWith("GPU-", StringComparison.OrdinalIgnoreCase) && !value.StartsWith("MIG-", StringComparison.OrdinalIgnoreCase))
        {
            return false; // a lone word that is neither a count nor a GPU UUID is most likely a typo
        }

        var ids = value.Split(',', StringSplitOptions.TrimEntries);
        if (ids.Any(id => id.Length == 0 || id.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or ':' or '.'))))
        {
            return false;
        }

        request = new GpuRequest(false, 0, ids);
        return true;
    }

    /// <summary>Device ids as <c>CUDA_VISIBLE_DEVICES</c> wants them.</summary>
    public string VisibleDevices => string.Join(',', DeviceIds);

    public override string ToString() => All ? "all" : DeviceIds.Count > 0 ? $"device={VisibleDevices}" : Count.ToString(CultureInfo.InvariantCulture);
}
