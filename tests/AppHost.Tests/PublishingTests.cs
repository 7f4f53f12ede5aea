using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;
using LlmAspire.AppHost.Tests.Infrastructure;

namespace LlmAspire.AppHost.Tests;

/// <summary>`--publisher manifest|compose`, run as the built AppHost exactly as azd or a developer runs it.</summary>
public sealed class PublishingTests : IDisposable
{
    private readonly DirectoryInfo output = Directory.CreateTempSubdirectory("llmaspire-publish-");

    public void Dispose() => output.Delete(recursive: true);

    [Fact]
    public async Task Manifest_is_valid_against_the_published_schema_and_wires_the_platform()
    {
        var path = Path.Combine(output.FullName, "aspire-manifest.json");
        await AppHostCommand.RunAsync("--publisher", "manifest", "--output-path", path);

        var text = await File.ReadAllTextAsync(path, TestContext.Current.CancellationToken);
        var schemaPath = Path.Combine(AppContext.BaseDirectory, "schemas", "aspire-8.0.json");
        Assert.True(File.Exists(schemaPath), "The manifest schema is copied from ../shared/schemas/aspire-8.0.json beside the repository.");
        var schema = JsonSchema.FromText(await File.ReadAllTextAsync(schemaPath, TestContext.Current.CancellationToken));
        var result = schema.Evaluate(JsonDocument.Parse(text).RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List });
        Assert.True(result.IsValid, string.Join("\n", (result.Details ?? []).Where(d => d.Errors is { Count: > 0 })
            .Select(d => $"{d.InstanceLocation}: {string.Join("; ", d.Errors!.Values)}")));

        var manifest = JsonNode.Parse(text)!;
        Assert.Equal("https://json.schemastore.org/aspire-8.0.json", (string?)manifest["$schema"]);
        var resources = manifest["resources"]!;

        var cache = resources["cache"]!;
        Assert.Equal("container.v0", (string?)cache["type"]);
        Assert.Equal("{cache.bindings.tcp.host}:{cache.bindings.tcp.port},password={cache-password.value}", (string?)cache["connectionString"]);
        Assert.Equal(6379, (int?)cache["bindings"]!["tcp"]!["targetPort"]);
        Assert.Equal("{cache-password.value}", (string?)cache["env"]!["REDIS_PASSWORD"]);

        var postgres = resources["postgres"]!;
        Assert.Equal("container.v0", (string?)postgres["type"]);
        Assert.Equal("Host={postgres.bindings.tcp.host};Port={postgres.bindings.tcp.port};Username=postgres;Password={postgres-password.value}",
            (string?)postgres["connectionString"]);
        Assert.Equal("value.v0", (string?)resources["gatewaydb"]!["type"]);
        Assert.Equal("{postgres.connectionString};Database=gatewaydb", (string?)resources["gatewaydb"]!["connectionString"]);

        var gateway = resources["gateway"]!;
        Assert.Equal("project.v0", (string?)gateway["type"]);
        // Relative to the manifest's directory, as azd resolves it.
        var projectPath = Path.GetFullPath(Path.Combine(output.FullName, (string)gateway["path"]!));
        Assert.True(File.Exists(projectPath) && projectPath.EndsWith("/Gateway.Api/Gateway.Api.csproj", StringComparison.Ordinal), projectPath);
        var env = gateway["env"]!;
        Assert.Equal("{cache.connectionString}", (string?)env["ConnectionStrings__cache"]);
        Assert.Equal("{gatewaydb.connectionString}", (string?)env["ConnectionStrings__gatewaydb"]);
        Assert.Equal("{modelmanager.bindings.http.url}", (string?)env["services__modelmanager__http__0"]);
        Assert.Equal("{admin-key.value}", (string?)env["Gateway__Auth__AdminKey"]);
        Assert.Equal("{modelmanager-token.value}", (string?)env["Gateway__ModelManager__ApiToken"]);
        Assert.Equal("{gateway.bindings.http.targetPort}", (string?)env["HTTP_PORTS"]);
        Assert.True((bool?)gateway["bindings"]!["http"]!["external"]);
        Assert.Null(resources["modelmanager"]!["bindings"]!["http"]!["external"]);
        // The simulated catalog points at this machine's build output: it is for local runs only.
        Assert.DoesNotContain(resources["modelmanager"]!["env"]!.AsObject(), e => e.Key.StartsWith("ModelManager__Models__", StringComparison.Ordinal));

        var adminKey = resources["admin-key"]!;
        Assert.Equal("parameter.v0", (string?)adminKey["type"]);
        Assert.Equal("{admin-key.inputs.value}", (string?)adminKey["value"]);
        Assert.True((bool?)adminKey["inputs"]!["value"]!["secret"]);
        Assert.Equal(40, (int?)adminKey["inputs"]!["value"]!["default"]!["generate"]!["minLength"]);
    }

    [Fact]
    public async Task Compose_file_is_accepted_by_docker_compose()
    {
        var path = Path.Combine(output.FullName, "docker-compose.yaml");
        await AppHostCommand.RunAsync("--publisher", "compose", "--output-path", path);

        Assert.True(File.Exists(Path.Combine(output.FullName, ".env")), "Parameters are listed in .env beside the compose file.");
        var compose = await File.ReadAllTextAsync(path, TestContext.Current.CancellationToken);
        Assert.Contains("ConnectionStrings__cache: \"cache:6379,password=${CACHE_PASSWORD}\"", compose, StringComparison.Ordinal);
        Assert.Contains("ConnectionStrings__gatewaydb: \"Host=postgres;Port=5432;Username=postgres;Password=${POSTGRES_PASSWORD};Database=gatewaydb\"", compose, StringComparison.Ordinal);
        Assert.Contains("services__modelmanager__http__0: \"http://modelmanager:8080\"", compose, StringComparison.Ordinal);

        var dockerCompose = new[] { "/usr/bin/docker-compose", "/usr/local/bin/docker-compose" }.FirstOrDefault(File.Exists);
        Assert.True(dockerCompose is not null, "docker-compose is not installed; eng/test.sh installs Debian's docker-compose package.");
        var config = await AppHostCommand.RunProcessAsync(dockerCompose, ["-f", path, "config"], output.FullName);
        Assert.Contains("vllm-llama", config, StringComparison.Ordinal);
        Assert.Contains("gateway", config, StringComparison.Ordinal);
    }
}
