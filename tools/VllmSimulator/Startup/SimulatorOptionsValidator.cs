using LlmAspire.VllmSimulator.Faults;
using Microsoft.Extensions.Options;

namespace LlmAspire.VllmSimulator.Startup;

/// <summary>
/// Checks what attributes cannot: the fault syntax and the model name list. Ranges and types are checked by
/// ServiceDefaults' configuration checker; both refuse to start the host with a message naming the key.
/// </summary>
internal sealed class SimulatorOptionsValidator : IValidateOptions<SimulatorOptions>
{
    public ValidateOptionsResult Validate(string? name, SimulatorOptions options)
    {
        var errors = new List<string>();
        if (!FaultSpec.TryParse(options.Fault, out _))
        {
            errors.Add($"{SimulatorOptions.SectionName}:Fault = '{options.Fault}' is not a fault; expected {FaultSpec.Syntax}.");
        }

        var names = SimulatorState.ParseModelNames(options.Model);
        if (names.Length == 0)
        {
            errors.Add($"{SimulatorOptions.SectionName}:Model = '{options.Model}' names no model; expected one or more comma-separated names.");
        }
        else if (names.Distinct(StringComparer.Ordinal).Count() != names.Length)
        {
            errors.Add($"{SimulatorOptions.SectionName}:Model = '{options.Model}' names a model twice.");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
