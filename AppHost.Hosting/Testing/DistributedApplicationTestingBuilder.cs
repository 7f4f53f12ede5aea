using System.Reflection;
using System.Runtime.ExceptionServices;
using LlmAspire.Hosting.ApplicationModel;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace LlmAspire.Hosting.Testing;

public interface IDistributedApplicationTestingBuilder
{
    ConfigurationManager Configuration { get; }

    IServiceCollection Services { get; }

    IReadOnlyList<IResource> Resources { get; }

    IResourceBuilder<T> CreateResourceBuilder<T>(string name) where T : IResource;

    Task<DistributedApplication> BuildAsync(CancellationToken cancellationToken = default);
}

/// <summary>
/// Boots an AppHost's own topology inside a test, as Aspire.Hosting.Testing does: runs the AppHost's Program.cs up to
/// <c>Build()</c>, lets the test adjust resources (shorter timeouts, other settings), then builds and starts it.
/// Generated parameter values are not persisted: each test run gets its own.
/// </summary>
public static class DistributedApplicationTestingBuilder
{
    public static Task<IDistributedApplicationTestingBuilder> CreateAsync<TEntryPoint>(CancellationToken cancellationToken = default)
        where TEntryPoint : IProjectMetadata, new() => CreateAsync<TEntryPoint>([], cancellationToken);

    public static Task<IDistributedApplicationTestingBuilder> CreateAsync<TEntryPoint>(string[] args, CancellationToken cancellationToken = default)
        where TEntryPoint : IProjectMetadata, new()
    {
        cancellationToken.ThrowIfCancellationRequested();
        var assembly = Assembly.Load(AssemblyName.GetAssemblyName(new TEntryPoint().TargetPath));
        var entryPoint = assembly.EntryPoint ?? throw new InvalidOperationException($"{assembly.GetName().Name} has no entry point.");
        var capture = TestingHook.Begin(new DistributedApplicationOptions { Args = args, AppHostAssembly = assembly, PersistGeneratedParameters = false });
        try
        {
            entryPoint.Invoke(null, entryPoint.GetParameters().Length == 0 ? [] : [args]);
        }
        catch (TargetInvocationException exception) when (exception.InnerException is not TestingHook.HandedOverException)
        {
            ExceptionDispatchInfo.Throw(exception.InnerException!);
        }
        catch (TargetInvocationException)
        {
            // Program.cs reached Build() and handed its builder over.
        }
        finally
        {
            TestingHook.End();
        }

        var builder = capture.Builder ?? throw new InvalidOperationException($"{assembly.GetName().Name}'s entry point returned without calling Build().");
        return Task.FromResult<IDistributedApplicationTestingBuilder>(new TestingBuilder(builder));
    }

    private sealed class TestingBuilder(DistributedApplicationBuilder builder) : IDistributedApplicationTestingBuilder
    {
        public ConfigurationManager Configuration => builder.Configuration;

        public IServiceCollection Services => builder.Services;

        public IReadOnlyList<IResource> Resources => builder.Resources;

        public IResourceBuilder<T> CreateResourceBuilder<T>(string name) where T : IResource =>
            builder.CreateResourceBuilder(builder.Resources.OfType<T>().SingleOrDefault(r => r.Name == name)
                ?? throw new InvalidOperationException($"There is no {typeof(T).Name} named '{name}'."));

        public Task<DistributedApplication> BuildAsync(CancellationToken cancellationToken = default) =>
            Task.FromResult(builder.BuildForRun());
    }
}
