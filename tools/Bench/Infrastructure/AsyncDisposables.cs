namespace LlmAspire.Bench.Infrastructure;

/// <summary>Disposes a set of servers started in a loop, in reverse order, when the scenario ends.</summary>
internal sealed class AsyncDisposables(IEnumerable<IAsyncDisposable> items) : IAsyncDisposable
{
    private readonly List<IAsyncDisposable> items = [.. items];

    public async ValueTask DisposeAsync()
    {
        for (var i = items.Count - 1; i >= 0; i--)
        {
            await items[i].DisposeAsync();
        }
    }
}
