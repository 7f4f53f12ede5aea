using Microsoft.Playwright;

namespace LlmAspire.TestToolkit;

/// <summary>
/// Debian's headless Chromium driven by Playwright's bundled driver, with a fresh profile in a temporary directory.
/// Playwright never downloads a browser here: the executable is given and downloads are switched off.
/// </summary>
public sealed class Browser : IAsyncDisposable
{
    public const string ChromiumPath = "/usr/bin/chromium";

    private readonly IPlaywright playwright;
    private readonly DirectoryInfo profile;

    private Browser(IPlaywright playwright, DirectoryInfo profile, IBrowserContext context)
    {
        this.playwright = playwright;
        this.profile = profile;
        Context = context;
    }

    public IBrowserContext Context { get; }

    public static async Task<Browser> LaunchAsync()
    {
        Assert.True(File.Exists(ChromiumPath), $"{ChromiumPath} is missing: install Debian's chromium package (eng/test.sh does).");
        Environment.SetEnvironmentVariable("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1");
        var playwright = await Playwright.CreateAsync();
        var profile = Directory.CreateTempSubdirectory("llmaspire-dashboard-chromium-");
        // Playwright passes the profile as --user-data-dir itself (it refuses one among the arguments).
        var context = await playwright.Chromium.LaunchPersistentContextAsync(profile.FullName, new BrowserTypeLaunchPersistentContextOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args =
            [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
            ],
            ViewportSize = new ViewportSize { Width = 1600, Height = 900 },
        });
        // Generous for a busy 2-core machine; a passing check returns as soon as it holds.
        context.SetDefaultTimeout(30_000);
        Assertions.SetDefaultExpectTimeout(30_000);
        return new Browser(playwright, profile, context);
    }

    public async Task<IPage> OpenAsync(Uri address)
    {
        var page = await Context.NewPageAsync();
        await page.GotoAsync(address.ToString());
        return page;
    }

    public async ValueTask DisposeAsync()
    {
        await Context.CloseAsync();
        playwright.Dispose();
        profile.Delete(recursive: true);
    }
}
