using LlmAspire.Dashboard;

await DashboardApplication.Create(args).RunAsync();
