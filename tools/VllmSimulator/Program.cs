using LlmAspire.VllmSimulator;

await SimulatorApplication.Build(args).RunAsync();
