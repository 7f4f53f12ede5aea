using Microsoft.Extensions.Options;

namespace LlmAspire.ModelManager.Catalog;

/// <summary>Rules that span several keys or need parsing; single values are checked by <c>AddValidatedOptions</c>.</summary>
internal sealed class ModelManagerOptionsValidator : IValidateOptions<ModelManagerOptions>
{
    public ValidateOptionsResult Validate(string? name, ModelManagerOptions options)
    {
        var errors = new List<string>();
        const string section = ModelManagerOptions.SectionName;
        if (options.ApiToken is { } token && (token.Trim().Length == 0 || token.Any(char.IsWhiteSpace)))
        {
            errors.Add($"{section}:ApiToken must be a non-empty token without white space.");
        }

        if (string.IsNullOrWhiteSpace(options.Name) || !options.Name.All(IsLabelCharacter))
        {
            errors.Add($"{section}:Name = '{options.Name}' must be made of letters, digits, '.', '_' and '-'.");
        }

        foreach (var (id, model) in options.Models)
        {
            var prefix = $"{section}:Models:{id}";
            if (id.Length > 200 || id.Any(c => char.IsControl(c) || char.IsWhiteSpace(c)))
            {
                errors.Add($"{prefix}: a model id must be at most 200 characters, without white space or control characters.");
            }

            if (!GpuRequest.TryParse(model.Gpu, out var gpu))
            {
                errors.Add($"{prefix}:Gpu = '{model.Gpu}' is not a GPU request; expected {GpuRequest.Syntax}.");
            }

            switch (model.Runtime)
            {
                case RuntimeKind.Process:
                    if (string.IsNullOrWhiteSpace(model.Command))
                    {
                        errors.Add($"{prefix}:Command is required for the Process runtime (the server executable, e.g. 'vllm').");
                    }

                    if (!string.IsNullOrWhiteSpace(model.Image))
                    {
                        errors.Add($"{prefix}:Image = '{model.Image}' is only for the Docker runtime; set {prefix}:Runtime = Docker or remove it.");
                    }

                    if (model.Volumes.Count > 0)
                    {
                        errors.Add($"{prefix}:Volumes are only for the Docker runtime.");
                    }

                    if (gpu is { All: false, DeviceIds.Count: 0 })
                    {
                        errors.Add($"{prefix}:Gpu = '{model.Gpu}': a process can only be given 'all' or device ids such as 'device=0' (as CUDA_VISIBLE_DEVICES), not a count.");
                    }

                    break;
                case RuntimeKind.Docker:
                    if (string.IsNullOrWhiteSpace(model.Image))
                    {
                        errors.Add($"{prefix}:Image is required for the Docker runtime (e.g. 'vllm/vllm-openai:latest').");
                    }

                    foreach (var volume in model.Volumes)
                    {
                        if (!IsVolume(volume))
                        {
                            errors.Add($"{prefix}:Volumes entry '{volume}' is not a mount; expected '/host/path:/container/path[:ro|:rw]' or 'volume-name:/container/path[:ro|:rw]'.");
                        }
                    }

                    break;
            }

            if (model.StopAfter is not null && model.IdleTimeout is not null)
            {
                errors.Add($"{prefix}: StopAfter = '{model.StopAfter}' and IdleTimeout = '{model.IdleTimeout}' are the same setting (IdleTimeout is its older name); set StopAfter only.");
            }
            else if (model.SleepAfter is { } sleepAfter && sleepAfter >= model.EffectiveStopAfter)
            {
                var stop = model.StopAfter is not null ? "StopAfter" : model.IdleTimeout is not null ? "IdleTimeout" : "StopAfter (default)";
                errors.Add($"{prefix}:SleepAfter = '{sleepAfter}' must be shorter than {stop} = '{model.EffectiveStopAfter}': a model sleeps before it is stopped.");
            }

            if (model.Port != 0 && options.Models.Any(other => other.Key != id && other.Value.Port == model.Port))
            {
                errors.Add($"{prefix}:Port = '{model.Port}' is also the port of another model; each model needs its own (or 0 for a free one).");
            }
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    private static bool IsLabelCharacter(char c) => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-';

    private static bool IsVolume(string volume)
    {
        var parts = volume.Split(':');
        if (parts.Length is < 2 or > 3 || parts.Any(string.IsNullOrWhiteSpace) || !parts[1].StartsWith('/'))
        {
            return false;
        }

        return parts.Length == 2 || parts[2] is "ro" or "rw" or "z" or "Z" or "ro,z" or "ro,Z" or "rw,z" or "rw,Z";
    }
}
