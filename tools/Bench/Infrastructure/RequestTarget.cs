namespace LlmAspire.Bench.Infrastructure;

/// <summary>
/// Where the load generator sends a request, and the headers that target needs besides the body's content type (a
/// peer gateway that is told its upstream per request, for one).
/// </summary>
internal sealed record RequestTarget(Uri Url, IReadOnlyList<KeyValuePair<string, string>> Headers)
{
    public RequestTarget(Uri url)
        : this(url, [])
    {
    }

    public static implicit operator RequestTarget(Uri url) => new(url);
}
