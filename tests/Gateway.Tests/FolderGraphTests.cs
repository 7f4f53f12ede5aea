using System.Text.RegularExpressions;

namespace LlmAspire.Gateway.Tests;

/// <summary>
/// Keeps Gateway.Api's layering honest (docs/architecture.md): its folders, read from the source, depend on each other
/// one way only, and each file's namespace is its folder's, so that the <c>using</c> directives these edges are read
/// from say where a type lives.
/// </summary>
public sealed partial class FolderGraphTests
{
    private const string RootNamespace = "LlmAspire.Gateway.Api";
    private const string Root = "(root)";

    [Fact]
    public void FoldersDependOnEachOtherOneWayOnly()
    {
        var cycles = Cycles(ReadGraph(SourceDirectory()));

        Assert.True(cycles.Count == 0, $"Gateway.Api's folders depend on each other in a cycle:\n{string.Join('\n', cycles)}");
    }

    [Fact]
    public void NamespacesFollowFolders()
    {
        var source = SourceDirectory();
        var misplaced = SourceFiles(source)
            .Select(file => (File: Path.GetRelativePath(source, file), Namespace: NamespaceDeclaration().Match(File.ReadAllText(file)).Groups[1].Value))
            // Program.cs, top-level statements, declares none.
            .Where(file => file.Namespace.Length > 0 && file.Namespace != ExpectedNamespace(file.File))
            .Select(file => $"{file.File}: namespace {file.Namespace}, expected {ExpectedNamespace(file.File)}")
            .ToList();

        Assert.True(misplaced.Count == 0, string.Join('\n', misplaced));
    }

    [Fact]
    public void CyclesAreFoundAndNamedEdgeByEdge()
    {
        var graph = new Dictionary<string, ISet<string>>
        {
            ["A"] = new HashSet<string> { "B" },
            ["B"] = new HashSet<string> { "C" },
            ["C"] = new HashSet<string> { "A", "D" },
            ["D"] = new HashSet<string>(),
        };

        Assert.Equal("A -> B -> C -> A", Assert.Single(Cycles(graph)));
        Assert.Empty(Cycles(new Dictionary<string, ISet<string>> { ["A"] = new HashSet<string> { "B" }, ["B"] = new HashSet<string>() }));
    }

    /// <summary>Folder → folders whose namespaces its files name (root files are the folder <see cref="Root"/>).</summary>
    private static Dictionary<string, ISet<string>> ReadGraph(string source)
    {
        var folders = Directory.GetDirectories(source).Select(Path.GetFileName).Where(name => name is not ("bin" or "obj")).ToHashSet();
        var graph = new Dictionary<string, ISet<string>>();
        foreach (var file in SourceFiles(source))
        {
            var from = FolderOf(Path.GetRelativePath(source, file));
            var edges = graph.TryGetValue(from, out var known) ? known : graph[from] = new SortedSet<string>();
            foreach (Match reference in GatewayNamespace().Matches(File.ReadAllText(file)))
            {
                var to = folders.Contains(reference.Groups[1].Value) ? reference.Groups[1].Value : Root;
                if (to != from)
                {
                    edges.Add(to);
                }
            }
        }

        return graph;
    }

    /// <summary>Cycles as the paths that go round them: one from each folder on a cycle that no cycle printed before passes.</summary>
    private static List<string> Cycles(IReadOnlyDictionary<string, ISet<string>> graph)
    {
        var cycles = new List<string>();
        var covered = new HashSet<string>();
        foreach (var start in graph.Keys.Order(StringComparer.Ordinal).Where(folder => !covered.Contains(folder)))
        {
            if (PathBack(graph, start) is { } path)
            {
                covered.UnionWith(path);
                cycles.Add(string.Join(" -> ", path.Append(start)));
            }
        }

        return cycles;
    }

    /// <summary>The shortest path from <paramref name="start"/> back to itself, without the final step; null when there is none.</summary>
    private static List<string>? PathBack(IReadOnlyDictionary<string, ISet<string>> graph, string start)
    {
        var cameFrom = new Dictionary<string, string>();
        var queue = new Queue<string>([start]);
        while (queue.TryDequeue(out var folder))
        {
            if (!graph.TryGetValue(folder, out var dependencies))
            {
                continue;
            }

            foreach (var next in dependencies)
            {
                if (next == start)
                {
                    var path = new List<string> { folder };
                    while (path[0] != start)
                    {
                        path.Insert(0, cameFrom[path[0]]);
                    }

                    return path;
                }

                if (cameFrom.TryAdd(next, folder))
                {
                    queue.Enqueue(next);
                }
            }
        }

        return null;
    }

    private static IEnumerable<string> SourceFiles(string source) => Directory.EnumerateFiles(source, "*.cs", SearchOption.AllDirectories)
        .Where(file => FolderOf(Path.GetRelativePath(source, file)) is not ("bin" or "obj"));

    private static string FolderOf(string relativeFile) =>
        relativeFile.Split(Path.DirectorySeparatorChar) is [var folder, _, ..] ? folder : Root;

    private static string ExpectedNamespace(string relativeFile) =>
        string.Join('.', [RootNamespace, .. Path.GetDirectoryName(relativeFile)!.Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries)]);

    /// <summary>Gateway.Api's sources, found from the test's output directory up.</summary>
    private static string SourceDirectory()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var source = Path.Combine(directory.FullName, "Gateway.Api");
            if (File.Exists(Path.Combine(source, "Gateway.Api.csproj")))
            {
                return source;
            }
        }

        throw new DirectoryNotFoundException($"No Gateway.Api/Gateway.Api.csproj above {AppContext.BaseDirectory}.");
    }

    [GeneratedRegex(@"\bLlmAspire\.Gateway\.Api(?:\.(\w+))?")]
    private static partial Regex GatewayNamespace();

    [GeneratedRegex(@"^namespace ([\w.]+);", RegexOptions.Multiline)]
    private static partial Regex NamespaceDeclaration();
}
