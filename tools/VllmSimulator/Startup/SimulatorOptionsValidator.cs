using LlmAspire.VllmSimulator.Faults;
using LlmAspire.VllmSimulator.Requests;
using Microsoft.Extensions.Options;

namespace LlmAspire.VllmSimulator.Startup;

/// <summary>
/// Checks what attributes cannot: the fault syntax, the gap between 0 and the slowest decode speed, and the model
/// name list. ServiceDefaults' configuration checker covers types and ranges; both refuse to start the host with a
/// message naming the key.
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

        if (!RequestSettings.IsValidRate(options.TokensPerSecond))
        {
            errors.Add($"{SimulatorOptions.SectionName}:TokensPerSecond = '{options.TokensPerSecond}' is out of range; expected {RequestSettings.RateExpectation}.");
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
