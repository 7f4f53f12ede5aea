namespace LlmAspire.Hosting;

/// <summary>
/// How <c>DistributedApplicationTestingBuilder</c> borrows the AppHost's own Program.cs: it runs the entry point with a
/// hook set, and <see cref="DistributedApplicationBuilder.Build"/> hands the builder to the hook and unwinds Program.cs
/// instead of building.
/// </summary>
internal static class TestingHook
{
    private static readonly AsyncLocal<Capture?> Current = new();

    public static Capture Begin(DistributedApplicationOptions options) => Current.Value = new Capture(options);

    public static void End() => Current.Value = null;

    /// <summary>The options the testing builder wants Program.cs's <c>CreateBuilder</c> to use.</summary>
    public static DistributedApplicationOptions? Options => Current.Value?.Options;

    public static void HandOver(DistributedApplicationBuilder builder)
    {
        if (Current.Value is { } capture)
        {
            capture.Builder = builder;
            throw new HandedOverException();
        }
    }

    public sealed class Capture(DistributedApplicationOptions options)
    {
        public DistributedApplicationOptions Options { get; } = options;

        public DistributedApplicationBuilder? Builder { get; set; }
    }

    /// <summary>Unwinds Program.cs once its builder is handed over.</summary>
    public sealed class HandedOverException() : Exception("The application builder was handed to the testing builder.");
}
