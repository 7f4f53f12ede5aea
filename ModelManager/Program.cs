using LlmAspire.ModelManager;

await ModelManagerApplication.Create(args).RunAsync();
