namespace LlmAspire.AppHost.Tests;

/// <summary>
/// Where Redis and PostgreSQL run (<c>LlmAspire:ServerHosting</c>): the AppHost's own Program.cs, built but not
/// started, for each setting.
/// </summary>
public sealed class ServerHostingTests
{
    [Fact]
    public async Task Local_processes_are_executables_with_the_data_folder_the_setting_names()
    {
        using var data = new Infrastructure.DataFolder();
        await using var appHost = await CreateAsync("LlmAspire:ServerHosting=LocalProcesses", $"LlmAspire:DataDirectory={data.Path}");

        var cache = Assert.IsAssignableFrom<ExecutableResource>(Resource(appHost, "cache"));
        Assert.Equal("redis-server", cache.Command);
        Assert.Equal(Path.Combine(data.Path, "cache"), cache.WorkingDirectory);
        var postgres = Assert.IsAssignableFrom<ExecutableResource>(Resource(appHost, "postgres"));
        Assert.Equal(Path.Combine(data.Path, "postgres"), postgres.WorkingDirectory);
        var database = Assert.IsAssignableFrom<IResourceWithParent>(Resource(appHost, "gatewaydb"));
        Assert.Same(postgres, database.Parent);
    }

    [Fact]
    public async Task Containers_are_Aspire_own_with_data_volumes()
    {
        await using var appHost = await CreateAsync("LlmAspire:ServerHosting=Containers");

        var cache = Assert.IsType<RedisResource>(Resource(appHost, "cache"));
        var postgres = Assert.IsType<PostgresServerResource>(Resource(appHost, "postgres"));
        Assert.IsType<PostgresDatabaseResource>(Resource(appHost, "gatewaydb"));
        Assert.Contains(cache.Annotations.OfType<ContainerMountAnnotation>(), mount => mount.Type == ContainerMountType.Volume);
        Assert.Contains(postgres.Annotations.OfType<ContainerMountAnnotation>(), mount => mount.Type == ContainerMountType.Volume);
    }

    [Fact]
    public async Task Auto_runs_local_processes_when_no_container_engine_answers()
    {
        using var data = new Infrastructure.DataFolder();
        await using var appHost = await CreateAsync(
            "LlmAspire:ServerHosting=Auto", $"LlmAspire:DataDirectory={data.Path}", $"DOCKER_HOST=unix://{data.Path}/no-engine.sock");

        Assert.IsAssignableFrom<ExecutableResource>(Resource(appHost, "cache"));
        Assert.IsAssignableFrom<ExecutableResource>(Resource(appHost, "postgres"));
    }

    [Fact]
    public async Task An_unknown_setting_stops_the_AppHost_with_the_key_the_value_and_the_choices()
    {
        var exception = await Assert.ThrowsAnyAsync<Exception>(() => CreateAsync("LlmAspire:ServerHosting=Sometimes"));

        var message = exception.GetBaseException().Message;
        Assert.Contains("LlmAspire:ServerHosting", message, StringComparison.Ordinal);
        Assert.Contains("'Sometimes'", message, StringComparison.Ordinal);
        Assert.Contains("Auto, Containers, LocalProcesses", message, StringComparison.Ordinal);
    }

    private static Task<IDistributedApplicationTestingBuilder> CreateAsync(params string[] arguments) =>
        DistributedApplicationTestingBuilder.CreateAsync<Projects.AppHost>(arguments, TestContext.Current.CancellationToken);

    private static IResource Resource(IDistributedApplicationTestingBuilder appHost, string name) =>
        appHost.Resources.Single(resource => resource.Name == name);
}
