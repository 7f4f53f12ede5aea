namespace LlmAspire.TestToolkit;

/// <summary>Where artifacts go: the run's <c>--results-directory</c> (eng/test.sh sets it), else <c>TestResults</c> beside the tests.</summary>
public static class TestResults
{
    public static string Directory { get; } = Resolve();

    private static string Resolve()
    {
        var args = Environment.GetCommandLineArgs();
        var index = Array.IndexOf(args, "--results-directory");
        var directory = index >= 0 && index + 1 < args.Length ? args[index + 1] : Path.Combine(AppContext.BaseDirectory, "TestResults");
        return System.IO.Directory.CreateDirectory(directory).FullName;
    }
}
