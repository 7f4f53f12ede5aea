using LlmAspire.Hosting.ApplicationModel;

namespace LlmAspire.Hosting.Orchestration;

/// <summary>Who depends on whom: waits, references and parents. Start follows it; stop runs it backwards.</summary>
internal static class DependencyGraph
{
    public static IEnumerable<IResource> DependenciesOf(IResource resource) =>
        resource.Annotations.OfType<WaitAnnotation>().Select(a => a.Resource)
            .Concat(resource.Annotations.OfType<ResourceReferenceAnnotation>().Select(a => a.Resource))
            .Concat(resource is IResourceWithParent child ? [child.Parent] : [])
            .Distinct();

    public static IEnumerable<IResource> DependentsOf(IResource resource, IEnumerable<IResource> resources) =>
        resources.Where(r => DependenciesOf(r).Contains(resource));

    public static void ThrowOnCycles(IReadOnlyList<IResource> resources)
    {
        var done = new HashSet<IResource>();
        foreach (var resource in resources)
        {
            Visit(resource, [], done);
        }

        static void Visit(IResource resource, List<IResource> path, HashSet<IResource> done)
        {
            if (path.Contains(resource))
            {
                throw new InvalidOperationException($"Resources wait for each other in a circle: {string.Join(" -> ", path.Append(resource))}.");
            }

            if (!done.Add(resource))
            {
                return;
            }

            path.Add(resource);
            foreach (var dependency in DependenciesOf(resource))
            {
                Visit(dependency, path, done);
            }

            path.RemoveAt(path.Count - 1);
        }
    }
}
