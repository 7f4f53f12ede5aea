using System.Globalization;
using LlmAspire.ModelManager.Catalog;
using Microsoft.Extensions.Time.Testing;

namespace LlmAspire.ModelManager.Tests.Infrastructure;

/// <summary>
/// What lifecycle rules are tested with: virtual time, a fake runtime whose servers point at one always-ready loopback
/// server (unless a test points a model elsewhere), and a meter factory of the test's own.
/// </summary>
public abstract class VirtualTimeTests : IAsyncLifetime
{
    private ReadyServer? readyServer;
    private FakeRuntime? runtime;

    protected static CancellationToken Token => TestContext.Current.CancellationToken;

    protected FakeTimeProvider Time { get; } = new(DateTimeOffset.Parse("2026-01-01T00:00:00Z", CultureInfo.InvariantCulture));

    protected TestMeterFactory Meters { get; } = new();

    protected ReadyServer ReadyServer => readyServer!;

    internal FakeRuntime Runtime => runtime!;

    public virtual async ValueTask InitializeAsync()
    {
        readyServer = await ReadyServer.StartAsync();
        runtime = new FakeRuntime(readyServer.Address);
    }

    public virtual async ValueTask DisposeAsync()
    {
        Meters.Dispose();
        if (readyServer is not null)
        {
            await readyServer.DisposeAsync();
        }

        GC.SuppressFinalize(this);
    }

    /// <summary>A fleet of <paramref name="settings"/> on the fake runtime, in virtual time.</summary>
    internal FleetHarness Fleet(ModelManagerOptions settings) => FleetHarness.Create(settings, Runtime, Time, Meters);
}
