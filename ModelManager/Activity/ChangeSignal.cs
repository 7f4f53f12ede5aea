namespace LlmAspire.ModelManager.Activity;

/// <summary>A task that completes at the next <see cref="Raise"/>; take it before reading what it guards, so no change is missed.</summary>
internal sealed class ChangeSignal
{
    private TaskCompletionSource next = New();

    public Task Next => Volatile.Read(ref next).Task;

    public void Raise() => Interlocked.Exchange(ref next, New()).TrySetResult();

    private static TaskCompletionSource New() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
