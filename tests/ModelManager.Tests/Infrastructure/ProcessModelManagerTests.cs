using System.Globalization;
using System.Text.Json.Nodes;

namespace LlmAspire.ModelManager.Tests.Infrastructure;

/// <summary>Tests of ModelManagers over real HTTP that run model servers as local processes (<see cref="ProcessModelManagers"/>).</summary>
public abstract class ProcessModelManagerTests : IAsyncLifetime
{
    protected static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    /// <summary>The test's ModelManagers; none of them, nor any server they started, outlives the test.</summary>
    protected ProcessModelManagers Managers { get; } = new();

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        await Managers.DisposeAsync();
        GC.SuppressFinalize(this);
    }

    /// <summary>The process id of a model's server, from its API view.</summary>
    protected static int Pid(JsonNode model) => int.Parse((string)model["instance"]!, CultureInfo.InvariantCulture);
}
