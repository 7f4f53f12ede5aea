namespace LlmAspire.Gateway.Tests.Infrastructure;

/// <summary>Tests against one simulated model behind a gateway, both started fresh for each test.</summary>
public abstract class SimulatedModelTests(string model, string[] simulatorOptions, params (string Key, string Value)[] modelSettings) : IAsyncLifetime
{
    protected SimulatorServer Simulator { get; private set; } = null!;

    protected GatewayServer Gateway { get; private set; } = null!;

    protected static CancellationToken Token => TestContext.Current.CancellationToken;

    public virtual async ValueTask InitializeAsync()
    {
        Simulator = await SimulatorServer.StartAsync(model, simulatorOptions);
        Gateway = await GatewayServer.StartAsync(model, Simulator.BaseAddress, modelSettings);
    }

    public virtual async ValueTask DisposeAsync()
    {
        await Gateway.DisposeAsync();
        await Simulator.DisposeAsync();
        GC.SuppressFinalize(this);
    }
}
