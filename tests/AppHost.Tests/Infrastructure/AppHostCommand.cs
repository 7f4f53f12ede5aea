using System.Diagnostics;

namespace LlmAspire.AppHost.Tests.Infrastructure;

/// <summary>Runs the built AppHost as `dotnet AppHost.dll …`, the way `dotnet run --project AppHost -- …` does.</summary>
internal static class AppHostCommand
{
    public static async Task<string> RunAsync(params string[] arguments) => await RunProcessAsync("dotnet", [Path.Combine(AppContext.BaseDirectory, "AppHost.dll"), .. arguments]);

    public static async Task<string> RunProcessAsync(string fileName, string[] arguments, string? workingDirectory = null)
    {
        var start = new ProcessStartInfo(fileName) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workingDirectory ?? "" };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var errors = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        await process.WaitForExitAsync(TestContext.Current.CancellationToken);
        var all = await output + await errors;
        Assert.True(process.ExitCode == 0, $"{fileName} {string.Join(' ', arguments)} exited with {process.ExitCode}:\n{all}");
        return all;
    }
}
