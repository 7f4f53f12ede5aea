using LlmAspire.Gateway;

await GatewayApplication.Create(args).RunAsync();
