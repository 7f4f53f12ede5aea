using LlmAspire.Gateway.Api.Admission;
using LlmAspire.Gateway.Api.Configuration;
using LlmAspire.Gateway.Api.Requests;
using Microsoft.Extensions.Time.Testing;

namespace LlmAspire.Gateway.Tests;

/// <summary>One model's admission queue in virtual time: whose turn a slot is, the queue timeout, and what its free path costs.</summary>
public sealed class AdmissionQueueTests
{
    private readonly FakeTimeProvider time = new();

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_request_waiting_past_the_queue_timeout_is_told_503_and_leaves_no_count_while_others_keep_their_place()
    {
        var queue = Queue(maxConcurrent: 1, queueTimeout: TimeSpan.FromMinutes(2));
        var (_, holder) = await queue.EnterAsync(Key("a"), Token);
        var first = queue.EnterAsync(Key("b"), Token).AsTask();
        time.Advance(TimeSpan.FromMinutes(1));
        var second = queue.EnterAsync(Key("c"), Token).AsTask();

        time.Advance(TimeSpan.FromMinutes(1));
        var (result, slot) = await first;

        Assert.Equal(AdmissionResult.QueueTimeout, result);
        Assert.Null(slot);
        Assert.Equal((1, 1), (queue.InFlight, queue.Queued));
        var (error, retryAfter) = queue.Refusal(result);
        Assert.Equal((StatusCodes.Status503ServiceUnavailable, "model_queue_timeout"), (error.Status, error.Code));
        Assert.True(retryAfter >= TimeSpan.FromSeconds(1));

        holder!.Dispose();
        using var admitted = (await second).Slot;
        Assert.NotNull(admitted);
        Assert.Equal((1, 0), (queue.InFlight, queue.Queued));
    }

    [Fact]
    public async Task Slots_go_to_API_keys_in_turns_by_their_queue_weight_and_anonymous_callers_share_one_turn()
    {
        var queue = Queue(maxConcurrent: 1);
        var (_, holder) = await queue.EnterAsync(Key("a"), Token);
        var callers = new[] { Key("burst"), Key("burst"), Key("burst"), Key("burst"), CallerIdentity.Anonymous, CallerIdentity.Anonymous, Key("paid", 2), Key("paid", 2) };
        var waiting = callers.Select(caller => queue.EnterAsync(caller, Token).AsTask()).ToList();
        var order = new List<int>();

        for (var slot = holder; order.Count < callers.Length;)
        {
            slot!.Dispose();
            var next = await Task.WhenAny(waiting.Where((_, index) => !order.Contains(index)));
            order.Add(waiting.IndexOf(next));
            slot = (await next).Slot;
            if (order.Count == callers.Length)
            {
                slot!.Dispose();
            }
        }

        // burst, anonymous, paid ×2, burst, anonymous, burst, burst.
        Assert.Equal([0, 4, 6, 7, 1, 5, 2, 3], order);
        Assert.Equal((0, 0), (queue.InFlight, queue.Queued));
    }

    [Fact]
    public async Task New_limits_apply_at_once_to_the_requests_held_and_waiting_and_a_new_queue_timeout_to_those_that_wait_from_then_on()
    {
        var queue = Queue(maxConcurrent: 1, queueTimeout: TimeSpan.FromMinutes(2));
        var (_, holder) = await queue.EnterAsync(Key("a"), Token);
        var waitingBefore = queue.EnterAsync(Key("b"), Token).AsTask();

        Assert.True(queue.Apply(new ModelOptions { MaxConcurrent = 1, MaxQueue = 1, QueueTimeout = TimeSpan.FromMinutes(1) }));
        Assert.Equal(AdmissionResult.QueueFull, (await queue.EnterAsync(Key("c"), Token)).Result);
        Assert.True(queue.Apply(new ModelOptions { MaxConcurrent = 1, MaxQueue = 5, QueueTimeout = TimeSpan.FromMinutes(1) }));
        var waitingAfter = queue.EnterAsync(Key("d"), Token).AsTask();
        time.Advance(TimeSpan.FromMinutes(1));

        Assert.Equal(AdmissionResult.QueueTimeout, (await waitingAfter).Result);
        Assert.False(waitingBefore.IsCompleted);
        Assert.False(queue.Apply(new ModelOptions { MaxConcurrent = 1, MaxQueue = 5, QueueTimeout = TimeSpan.FromMinutes(1) }));
        Assert.True(queue.Apply(new ModelOptions { MaxConcurrent = 2, MaxQueue = 5, QueueTimeout = TimeSpan.FromMinutes(1) }));
        using var admitted = (await waitingBefore).Slot;
        Assert.NotNull(admitted);
        Assert.Equal((2, 0, 2), (queue.InFlight, queue.Queued, queue.MaxConcurrent));
        holder!.Dispose();
    }

    [Fact]
    public async Task Entering_a_queue_with_a_free_slot_allocates_the_slot_and_nothing_else()
    {
        var queue = Queue(maxConcurrent: 4);
        var caller = Key("a");
        var token = Token;
        (await queue.EnterAsync(caller, token)).Slot!.Dispose();

        var before = GC.GetAllocatedBytesForCurrentThread();
        var entered = queue.EnterAsync(caller, token);
        var afterEntering = GC.GetAllocatedBytesForCurrentThread();
        Assert.True(entered.IsCompletedSuccessfully);
        (await entered).Slot!.Dispose();
        var afterLeaving = GC.GetAllocatedBytesForCurrentThread();
        var oneSlot = GC.GetAllocatedBytesForCurrentThread();
        _ = new AdmissionSlot(queue, 0, modelLoading: false);
        oneSlot = GC.GetAllocatedBytesForCurrentThread() - oneSlot;

        Assert.Equal(oneSlot, afterEntering - before);
        Assert.Equal(0, afterLeaving - afterEntering);
    }

    private AdmissionQueue Queue(int maxConcurrent, TimeSpan? queueTimeout = null) =>
        new("m", new ModelOptions { MaxConcurrent = maxConcurrent, MaxQueue = 100, QueueTimeout = queueTimeout ?? TimeSpan.FromMinutes(2) }, time);

    private static CallerIdentity Key(string id, int queueWeight = CallerIdentity.DefaultQueueWeight) =>
        new(id, "tenant", null, null, null, queueWeight);
}
