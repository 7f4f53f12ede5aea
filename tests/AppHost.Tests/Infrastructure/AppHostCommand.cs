using LlmAspire.TestToolkit.Servers.Processes;

namespace LlmAspire.AppHost.Tests.Infrastructure;

/// <summary>Runs the built AppHost as `dotnet AppHost.dll …`, the way `dotnet run --project AppHost -- …` does.</summary>
internal static class AppHostCommand
{
    /// <summary>What the AppHost wrote; fails with it when the AppHost exits with an error.</summary>
    public static Task<string> RunAsync(params string[] arguments) =>
        Command.RunAsync("dotnet", [Path.Combine(AppContext.BaseDirectory, "AppHost.dll"), .. arguments], cancellationToken: TestContext.Current.CancellationToken);
}
