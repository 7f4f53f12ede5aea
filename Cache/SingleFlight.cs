using System.Collections.Concurrent;

namespace LlmAspire.Cache;

/// <summary>
/// Collapses concurrent work on one key into a single flight: the first caller leads and does the work, everyone who
/// arrives while it runs waits for the leader's result. A flight ends when the leader completes it; the next caller
/// after that starts a new one, so a result is never reused past its flight (caching it is somebody else's job).
/// </summary>
public sealed class SingleFlight<TKey, TValue>
    where TKey : notnull
{
    private readonly ConcurrentDictionary<TKey, Flight> flights = new();

    /// <summary>The number of flights under way (for tests and metrics).</summary>
    public int Count => flights.Count;

    /// <summary>
    /// Joins the flight for <paramref name="key"/>, starting it when there is none. The leader must call
    /// <see cref="Flight.Complete"/> exactly once, whatever happens (a <c>finally</c>), or followers wait until they
    /// give up.
    /// </summary>
    public Flight Join(TKey key, out bool leader)
    {
        var candidate = new Flight(this, key);
        var flight = flights.GetOrAdd(key, candidate);
        leader = ReferenceEquals(flight, candidate);
        return flight;
    }

    /// <summary>Runs <paramref name="work"/> once for all concurrent callers with the same key.</summary>
    public async Task<TValue> RunAsync(TKey key, Func<Task<TValue>> work, CancellationToken cancellationToken)
    {
        var flight = Join(key, out var leader);
        if (!leader)
        {
            return await flight.Result.WaitAsync(cancellationToken);
        }

        try
        {
            var value = await work();
            flight.Complete(value);
            return value;
        }
        catch (Exception exception)
        {
            flight.Fail(exception);
            throw;
        }
    }

    public sealed class Flight
    {
        private readonly SingleFlight<TKey, TValue> owner;
        private readonly TKey key;
        private readonly TaskCompletionSource<TValue> result = new(TaskCreationOptions.RunContinuationsAsynchronously);

        internal Flight(SingleFlight<TKey, TValue> owner, TKey key)
        {
            this.owner = owner;
            this.key = key;
        }

        /// <summary>The leader's result; followers await it with their own cancellation.</summary>
        public Task<TValue> Result => result.Task;

        /// <summary>Ends the flight with a value. Later calls are ignored.</summary>
        public void Complete(TValue value)
        {
            // Leave the table first: a caller arriving after the result is published must not join a finished flight.
            owner.flights.TryRemove(new KeyValuePair<TKey, Flight>(key, this));
            result.TrySetResult(value);
        }

        internal void Fail(Exception exception)
        {
            owner.flights.TryRemove(new KeyValuePair<TKey, Flight>(key, this));
            result.TrySetException(exception);
        }
    }
}
