using LlmAspire.VllmSimulator;
using Microsoft.Extensions.Options;

try
{
    await SimulatorApplication.Build(args).RunAsync();
    return 0;
}
catch (OptionsValidationException)
{
    // The host has already logged which setting is wrong; exit with a plain failure code instead of a crash dump.
    return 2;
}
