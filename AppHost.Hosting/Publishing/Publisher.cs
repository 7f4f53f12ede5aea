using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace LlmAspire.Hosting.Publishing;

/// <summary>Writes the application for deployment: <c>--publisher manifest|compose --output-path &lt;file&gt;</c>.</summary>
internal sealed class Publisher(DistributedApplicationModel model, DistributedApplicationBuilder builder, IConfiguration configuration, ILogger<Publisher> logger)
{
    public async Task PublishAsync(CancellationToken cancellationToken)
    {
        var publisher = configuration["Publishing:Publisher"];
        var outputPath = Path.GetFullPath(configuration["Publishing:OutputPath"] is { Length: > 0 } path
            ? path
            : publisher == "compose" ? "docker-compose.yaml" : "aspire-manifest.json");
        Directory.CreateDirectory(Path.GetDirectoryName(outputPath)!);
        switch (publisher)
        {
            case "manifest":
                await ManifestPublisher.WriteAsync(model, builder.AppHostDirectory, outputPath, cancellationToken);
                break;
            case "compose":
                await ComposePublisher.WriteAsync(model, outputPath, cancellationToken);
                break;
            default:
                throw new InvalidOperationException($"Unknown publisher '{publisher}': use --publisher manifest or --publisher compose.");
        }

        logger.LogInformation("Wrote {Publisher} to {Path}", publisher, outputPath);
    }
}
