using LlmAspire.Gateway.Api;

await GatewayApplication.Create(args).RunAsync();
