using LlmAspire.Dashboard.Configuration;
using Microsoft.AspNetCore.Components;
using Microsoft.Extensions.Options;

namespace LlmAspire.Dashboard.Components.Shared;

/// <summary>
/// A page that reads its source again every <see cref="Interval"/> while it is open, for sources without a change
/// feed; the loop ends with the page (navigating away, closing the tab) or with the dashboard (its circuits may outlive
/// their browser tabs for a while).
/// </summary>
public abstract class RefreshingComponent : ComponentBase, IDisposable
{
    private CancellationTokenSource closed = new();

    [Inject]
    protected IOptions<DashboardOptions> Options { get; set; } = null!;

    [Inject]
    private IHostApplicationLifetime Lifetime { get; set; } = null!;

    protected CancellationToken Closed => closed.Token;

    protected virtual TimeSpan Interval => Options.Value.RefreshInterval;

    protected abstract Task RefreshAsync(CancellationToken cancellationToken);

    protected override void OnInitialized()
    {
        closed = CancellationTokenSource.CreateLinkedTokenSource(Lifetime.ApplicationStopping);
        _ = RefreshWhileOpenAsync();
    }

    private async Task RefreshWhileOpenAsync()
    {
        try
        {
            using var timer = new PeriodicTimer(Interval);
            do
            {
                await RefreshAsync(Closed);
                await InvokeAsync(StateHasChanged);
            }
            while (await timer.WaitForNextTickAsync(Closed));
        }
        catch (OperationCanceledException) when (Closed.IsCancellationRequested)
        {
            // The page was closed.
        }
    }

    /// <summary>Cancels (without disposing, so a loop still ending can read its token) what the page started.</summary>
    public virtual void Dispose()
    {
        closed.Cancel();
        GC.SuppressFinalize(this);
    }
}
