using LlmAspire.ModelManager.Catalog;

namespace LlmAspire.ModelManager.Lifecycle;

/// <summary>
/// The callers of a model's start: how many wait for it, and the load nobody waits for any more, which the model's
/// <see cref="CatalogModelOptions.OnAbandonedLoad"/> may say to cancel. A load is abandoned when it was begun by an
/// ensure (not an adoption, not a wake-up), every ensure that waited for it has left (the caller went away; one that
/// ran out of patience is to ask again and keeps it wanted), and no gateway replica reports requests queued for the
/// model. The last caller to leave checks; the idle reaper checks too, for queued requests that went away later.
/// </summary>
internal sealed partial class ManagedModel
{
    // Under the lock, of the start under way: the ensure calls waiting for it, whether it may be cancelled once none
    // does, and whether it was.
    private int waiting;
    private bool abandonable;
    private bool abandoned;

    /// <summary>The idle reaper's look at a load: cancels it when nobody waits for it any more and the model says to.</summary>
    internal void CancelIfAbandoned()
    {
        CancellationTokenSource? cancel;
        lock (gate)
        {
            cancel = AbandonUnderLock();
        }

        CancelQuietly(cancel);
    }

    /// <summary>Waits for <paramref name="start"/> as one of its callers; the last caller to leave may end it (<see cref="AbandonUnderLock"/>).</summary>
    private async Task<Uri> WaitForStartAsync(Task<Uri> start, TimeSpan patience, CancellationToken cancellationToken)
    {
        var askingAgain = false;
        try
        {
            return await start.WaitAsync(patience, services.Time, cancellationToken);
        }
        catch (TimeoutException)
        {
            askingAgain = true;
            throw;
        }
        finally
        {
            CancellationTokenSource? cancel = null;
            lock (gate)
            {
                if (ReferenceEquals(start, starting))
                {
                    waiting--;
                    abandonable &= !askingAgain;
                    cancel = AbandonUnderLock();
                }
            }

            CancelQuietly(cancel);
        }
    }

    /// <summary>
    /// Under the lock: when the start under way may be abandoned, nobody waits for it and no gateway reports requests
    /// queued for the model, and the model's policy is to cancel such a load, marks it abandoned and returns what
    /// cancels it (outside the lock).
    /// </summary>
    private CancellationTokenSource? AbandonUnderLock()
    {
        if (starting is null || abandoned || !abandonable || waiting > 0 || Options.OnAbandonedLoad != AbandonedLoadPolicy.Cancel
            || starting.IsCompleted || activity.Queued(Id) > 0)
        {
            return null;
        }

        abandoned = true;
        stopReason = "nobody waits for it any more (OnAbandonedLoad = Cancel)";
        return startCancellation;
    }
}
