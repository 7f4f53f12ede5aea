namespace LlmAspire.Gateway.Api.Admission;

/// <summary>
/// A concurrency limiter that serves its waiting requests round-robin across callers instead of oldest first: each
/// caller (an API key) with requests waiting gets turns of up to its weight in permits, its own requests oldest first,
/// so one caller's burst delays another caller's request by at most one turn of each caller ahead of it. At most
/// <see cref="PermitLimit"/> permits are held and at most <see cref="QueueLimit"/> requests wait; both limits can
/// change while requests hold and wait (<see cref="SetLimits"/>), which neither drops nor admits anyone early.
/// </summary>
/// <remarks>
/// <para>
/// Permits held and requests waiting share one 64-bit word, so a permit taken while one is free and nobody waits,
/// and one given back while nobody waits, cost a compare-exchange and no lock and no allocation. Whatever involves a
/// waiter takes the lock. While anyone waits every permit is held (a permit given back goes straight to the next
/// waiter), which is why a free permit and a waiter never meet outside the lock.
/// </para>
/// <para>
/// A waiter leaves the queue either granted, by a release or a larger limit, or cancelled, by its token; both happen
/// under the lock, so exactly one of them does. A granted waiter holds its permit even if its token fires a moment later:
/// its caller releases it like any other.
/// </para>
/// </remarks>
internal sealed class FairShareLimiter(int permitLimit, int queueLimit)
{
    private const long OneWaiting = 1L << 32;

    private readonly Lock gate = new();

    // Callers with requests waiting: by key, and in the order of their turns (the first one is served next).
    private readonly Dictionary<string, Caller> waitingCallers = new(StringComparer.Ordinal);
    private readonly LinkedList<Caller> turns = new();

    // Permits held in the low half, requests waiting in the high half.
    private long counts;
    private int permitLimit = permitLimit;
    private int queueLimit = queueLimit;

    public int PermitLimit => Volatile.Read(ref permitLimit);

    public int QueueLimit => Volatile.Read(ref queueLimit);

    public int Held => HeldIn(Volatile.Read(ref counts));

    public int Waiting => WaitingIn(Volatile.Read(ref counts));

    /// <summary>Takes a permit if one is free and nobody waits for one (nobody is passed).</summary>
    public bool TryAcquire()
    {
        var current = Volatile.Read(ref counts);
        while (WaitingIn(current) == 0 && HeldIn(current) < Volatile.Read(ref permitLimit))
        {
            var seen = Interlocked.CompareExchange(ref counts, current + 1, current);
            if (seen == current)
            {
                return true;
            }

            current = seen;
        }

        return false;
    }

    /// <summary>
    /// A permit, at once or when <paramref name="caller"/>'s turn comes (<paramref name="weight"/> permits per turn);
    /// false at once when the queue is full. A cancelled <paramref name="cancellationToken"/> takes a waiting request
    /// out of the queue and throws <see cref="OperationCanceledException"/>. A permit returned must be released.
    /// </summary>
    public ValueTask<bool> AcquireAsync(string caller, int weight, CancellationToken cancellationToken)
    {
        if (TryAcquire())
        {
            return ValueTask.FromResult(true);
        }

        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<bool>(cancellationToken);
        }

        Waiter waiter;
        lock (gate)
        {
            var current = Volatile.Read(ref counts);
            while (true)
            {
                var free = WaitingIn(current) == 0 && HeldIn(current) < permitLimit;
                if (!free && WaitingIn(current) >= queueLimit)
                {
                    return ValueTask.FromResult(false);
                }

                var seen = Interlocked.CompareExchange(ref counts, current + (free ? 1 : OneWaiting), current);
                if (seen == current)
                {
                    if (free)
                    {
                        return ValueTask.FromResult(true);
                    }

                    break;
                }

                // A permit was taken or given back without the lock in between: decide again.
                current = seen;
            }

            waiter = Enqueue(caller, Math.Max(1, weight));
        }

        // Registered outside the lock: a token already cancelled runs the callback here, and it takes the lock.
        var registration = cancellationToken.UnsafeRegister(static (state, token) => ((Waiter)state!).Cancel(token), waiter);
        return WaitAsync(waiter, registration);
    }

    /// <summary>Gives a permit back: to the next waiter in turn, if any and the limit allows, otherwise to the pool.</summary>
    public void Release()
    {
        var current = Volatile.Read(ref counts);
        while (WaitingIn(current) == 0)
        {
            var seen = Interlocked.CompareExchange(ref counts, current - 1, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }

        Waiter? next = null;
        lock (gate)
        {
            // Waiters may have been cancelled meanwhile, and the limit may have been lowered below the permits held.
            current = Volatile.Read(ref counts);
            if (WaitingIn(current) > 0 && HeldIn(current) <= permitLimit)
            {
                next = Dequeue();
                Interlocked.Add(ref counts, -OneWaiting);
            }
            else
            {
                Interlocked.Decrement(ref counts);
            }
        }

        next?.TrySetResult(true);
    }

    /// <summary>
    /// Changes the limits: a higher permit limit grants waiters at once; a lower one takes nothing away from holders and
    /// grants nobody until fewer than it are held. A lower queue limit only refuses new waiters.
    /// </summary>
    public void SetLimits(int permits, int queue)
    {
        List<Waiter>? granted = null;
        lock (gate)
        {
            Volatile.Write(ref permitLimit, permits);
            Volatile.Write(ref queueLimit, queue);
            while (Volatile.Read(ref counts) is var current && WaitingIn(current) > 0 && HeldIn(current) < permits)
            {
                (granted ??= []).Add(Dequeue());
                Interlocked.Add(ref counts, 1 - OneWaiting);
            }
        }

        foreach (var waiter in granted ?? [])
        {
            waiter.TrySetResult(true);
        }
    }

    private static int HeldIn(long counts) => (int)counts;

    private static int WaitingIn(long counts) => (int)(counts >> 32);

    private static async ValueTask<bool> WaitAsync(Waiter waiter, CancellationTokenRegistration registration)
    {
        using (registration)
        {
            return await waiter.Task;
        }
    }

    private Waiter Enqueue(string key, int weight)
    {
        if (!waitingCallers.TryGetValue(key, out var caller))
        {
            caller = new Caller(key);
            waitingCallers.Add(key, caller);
            turns.AddLast(caller.Turn);
        }

        // A key's weight may have been changed since its earlier requests: the latest one counts.
        caller.Weight = weight;
        var waiter = new Waiter(this, caller);
        caller.Waiters.AddLast(waiter.Node);
        return waiter;
    }

    /// <summary>Takes the next waiter in turn out of the queue; the caller's turn ends after its weight in permits.</summary>
    private Waiter Dequeue()
    {
        var caller = turns.First!.Value;
        var waiter = caller.Waiters.First!.Value;
        caller.Waiters.RemoveFirst();
        if (caller.Waiters.Count == 0)
        {
            Forget(caller);
        }
        else if (++caller.GrantedThisTurn >= caller.Weight)
        {
            caller.GrantedThisTurn = 0;
            turns.Remove(caller.Turn);
            turns.AddLast(caller.Turn);
        }

        return waiter;
    }

    private void Cancel(Waiter waiter, CancellationToken token)
    {
        lock (gate)
        {
            if (waiter.Node.List is null)
            {
                // Granted first: the permit is the waiter's.
                return;
            }

            waiter.Caller.Waiters.Remove(waiter.Node);
            if (waiter.Caller.Waiters.Count == 0)
            {
                Forget(waiter.Caller);
            }

            Interlocked.Add(ref counts, -OneWaiting);
        }

        waiter.TrySetCanceled(token);
    }

    /// <summary>A caller without waiting requests keeps no state: its next request takes the last turn.</summary>
    private void Forget(Caller caller)
    {
        turns.Remove(caller.Turn);
        waitingCallers.Remove(caller.Key);
    }

    private sealed class Caller
    {
        public Caller(string key)
        {
            Key = key;
            Turn = new LinkedListNode<Caller>(this);
        }

        public string Key { get; }

        public LinkedListNode<Caller> Turn { get; }

        public LinkedList<Waiter> Waiters { get; } = new();

        public int Weight { get; set; }

        public int GrantedThisTurn { get; set; }
    }

    private sealed class Waiter : TaskCompletionSource<bool>
    {
        private readonly FairShareLimiter limiter;

        public Waiter(FairShareLimiter limiter, Caller caller)
            : base(TaskCreationOptions.RunContinuationsAsynchronously)
        {
            this.limiter = limiter;
            Caller = caller;
            Node = new LinkedListNode<Waiter>(this);
        }

        public Caller Caller { get; }

        public LinkedListNode<Waiter> Node { get; }

        public void Cancel(CancellationToken token) => limiter.Cancel(this, token);
    }
}
