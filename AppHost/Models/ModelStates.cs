using LlmAspire.ModelManager.Client;

namespace LlmAspire.AppHost.Models;

/// <summary>The words the dashboard shows for a model, from ModelManager's lifecycle states; short, since the column truncates.</summary>
internal static class ModelStates
{
    public static readonly ResourceStateSnapshot Unloaded = new("Unloaded", KnownResourceStateStyles.Info);
    public static readonly ResourceStateSnapshot Loading = new("Loading", KnownResourceStateStyles.Info);
    public static readonly ResourceStateSnapshot Ready = new("Ready", KnownResourceStateStyles.Success);

    /// <summary>Its server runs with its GPU memory freed (vLLM sleep mode); the next request, or Load, wakes it.</summary>
    public static readonly ResourceStateSnapshot Sleeping = new("Sleeping", KnownResourceStateStyles.Info);
    public static readonly ResourceStateSnapshot Stopping = new("Stopping", KnownResourceStateStyles.Info);
    public static readonly ResourceStateSnapshot Failed = new("Failed", KnownResourceStateStyles.Error);

    /// <summary>ModelManager is not reachable (not started yet, restarting, stopped): the model's real state is not known.</summary>
    public static readonly ResourceStateSnapshot Unknown = new("Unknown", KnownResourceStateStyles.Warn);

    /// <summary>Declared in the AppHost but missing from the catalog ModelManager serves.</summary>
    public static readonly ResourceStateSnapshot NotInCatalog = new("Not in catalog", KnownResourceStateStyles.Error);

    public static ResourceStateSnapshot FromLifecycle(string state) => state switch
    {
        ModelStateNames.Stopped => Unloaded,
        ModelStateNames.Starting => Loading,
        ModelStateNames.Ready => Ready,
        ModelStateNames.Sleeping => Sleeping,
        ModelStateNames.Stopping => Stopping,
        ModelStateNames.Failed => Failed,
        _ => Unknown,
    };

    /// <summary>Load starts an unloaded or failed model and wakes a sleeping one.</summary>
    public static bool CanLoad(string? state) => state == Unloaded.Text || state == Failed.Text || state == Sleeping.Text;

    public static bool CanUnload(string? state) => state == Ready.Text || state == Loading.Text || state == Sleeping.Text;
}
