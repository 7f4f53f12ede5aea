namespace LlmAspire.AppHost.Models;

/// <summary>
/// A model of ModelManager's catalog, shown in the dashboard under its ModelManager: live state and figures from
/// ModelManager's change feed, Load and Unload commands. The model's server is ModelManager's to start and stop; this
/// resource only shows and asks.
/// </summary>
internal sealed class ModelResource(string name, string modelId, ProjectResource modelManager) : Resource(name)
{
    public const string ResourceType = "Model";

    /// <summary>The model's id in the catalog and in OpenAI requests (<c>"model"</c>).</summary>
    public string ModelId { get; } = modelId;

    /// <summary>The ModelManager that serves the model (the dashboard shows the model beneath it).</summary>
    public ProjectResource ModelManager { get; } = modelManager;
}

/// <summary>How the AppHost reaches a ModelManager's control API: its <c>http</c> endpoint and this bearer token.</summary>
internal sealed record ModelManagerApiAnnotation(ParameterResource Token) : IResourceAnnotation;
