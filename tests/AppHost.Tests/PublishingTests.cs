using System.Text.Json.Nodes;
using LlmAspire.AppHost.Tests.Infrastructure;

namespace LlmAspire.AppHost.Tests;

/// <summary>Aspire's manifest publisher run on the built AppHost, as azd (or <c>aspire do publish-manifest</c>) runs it.</summary>
public sealed class PublishingTests : IDisposable
{
    private readonly DirectoryInfo output = Directory.CreateTempSubdirectory("llmaspire-publish-");

    public void Dispose() => output.Delete(recursive: true);

    [Fact]
    public async Task The_manifest_deploys_Aspire_containers_and_the_services_without_anything_of_this_machine()
    {
        var path = Path.Combine(output.FullName, "aspire-manifest.json");
        await AppHostCommand.RunAsync("--publisher", "manifest", "--output-path", path);

        var resources = JsonNode.Parse(await File.ReadAllTextAsync(path, TestContext.Current.CancellationToken))!["resources"]!.AsObject();
        var cache = resources["cache"]!;
        Assert.Equal("container.v0", (string?)cache["type"]);
        Assert.StartsWith("{cache.bindings.tcp.host}:{cache.bindings.tcp.port},password={cache-password.value}", (string?)cache["connectionString"], StringComparison.Ordinal);
        Assert.NotEmpty(cache["volumes"]!.AsArray());
        var postgres = resources["postgres"]!;
        Assert.Equal("container.v0", (string?)postgres["type"]);
        Assert.Equal("Host={postgres.bindings.tcp.host};Port={postgres.bindings.tcp.port};Username=postgres;Password={postgres-password.value}",
            (string?)postgres["connectionString"]);
        Assert.NotEmpty(postgres["volumes"]!.AsArray());
        Assert.Equal("{postgres.connectionString};Database=gatewaydb", (string?)resources["gatewaydb"]!["connectionString"]);

        var gateway = resources["gateway"]!;
        Assert.Equal("project.v0", (string?)gateway["type"]);
        var projectPath = Path.GetFullPath(Path.Combine(output.FullName, (string)gateway["path"]!));
        Assert.True(File.Exists(projectPath) && projectPath.EndsWith("/Gateway.Api/Gateway.Api.csproj", StringComparison.Ordinal), projectPath);
        var gatewayEnv = gateway["env"]!.AsObject();
        Assert.Equal("{cache.connectionString}", (string?)gatewayEnv["ConnectionStrings__cache"]);
        Assert.Equal("{gatewaydb.connectionString}", (string?)gatewayEnv["ConnectionStrings__gatewaydb"]);
        Assert.Equal("{modelmanager.bindings.http.url}", (string?)gatewayEnv["services__modelmanager__http__0"]);
        Assert.Equal("{admin-key.value}", (string?)gatewayEnv["Gateway__Auth__AdminKey"]);
        Assert.Equal("{modelmanager-token.value}", (string?)gatewayEnv["Gateway__ModelManager__ApiToken"]);
        Assert.True((bool?)gateway["bindings"]!["http"]!["external"]);

        var modelManagerEnv = resources["modelmanager"]!["env"]!.AsObject();
        Assert.Equal("{modelmanager-token.value}", (string?)modelManagerEnv["ModelManager__ApiToken"]);
        // The simulated catalog, state folders and spool point at this machine: they are for local runs only.
        Assert.DoesNotContain(modelManagerEnv, e => e.Key.StartsWith("ModelManager__Models__", StringComparison.Ordinal) || e.Key.Contains("StateDirectory", StringComparison.Ordinal));
        Assert.DoesNotContain(gatewayEnv, e => e.Key.Contains("SpoolDirectory", StringComparison.Ordinal));
        Assert.DoesNotContain(resources, r => (string?)r.Value!["type"] is "executable.v0" || r.Key == RunningPlatform.Model);

        var adminKey = resources["admin-key"]!;
        Assert.Equal("parameter.v0", (string?)adminKey["type"]);
        Assert.True((bool?)adminKey["inputs"]!["value"]!["secret"]);
        Assert.Equal(40, (int?)adminKey["inputs"]!["value"]!["default"]!["generate"]!["minLength"]);
    }
}
