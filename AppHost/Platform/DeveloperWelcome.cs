using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmAspire.Hosting;
using LlmAspire.Hosting.ApplicationModel;

namespace LlmAspire.AppHost.Platform;

/// <summary>What a developer sees once the gateway is up: its URL and a curl that works, with an API key made for it.</summary>
public static class DeveloperWelcome
{
    public static IResourceBuilder<ProjectResource> WithDeveloperWelcome(this IResourceBuilder<ProjectResource> gateway, IResourceBuilder<ParameterResource> adminKey, string model)
    {
        var welcomed = 0;
        return gateway.OnResourceReady(async (resource, _, cancellationToken) =>
        {
            // Once per run: a restarted gateway serves the same keys.
            if (Interlocked.Exchange(ref welcomed, 1) == 1)
            {
                return;
            }

            var url = resource.GetEndpoint("http").Url;
            var key = await CreateKeyAsync(url, adminKey.Resource.Value, cancellationToken);
            Console.WriteLine($"""

                Gateway:    {url}
                Admin key:  Parameters:admin-key in the AppHost's user secrets (dotnet user-secrets list --project AppHost)
                Try it (a cold start of model {model} through ModelManager, then a cached answer):

                  curl -s {url}/v1/chat/completions -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' \
                    -d '{"{"}"model":"{model}","temperature":0,"messages":[{"{"}"role":"user","content":"Hello"{"}"}]{"}"}'

                """);
        });
    }

    private static async Task<string> CreateKeyAsync(string gatewayUrl, string adminKey, CancellationToken cancellationToken)
    {
        using var client = new HttpClient { BaseAddress = new Uri(gatewayUrl) };
        using var request = new HttpRequestMessage(HttpMethod.Post, "/admin/keys")
        {
            Content = JsonContent.Create(new { name = "AppHost developer key", tenant = "developer" }),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", adminKey);
        using var response = await client.SendAsync(request, cancellationToken);
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        return response.IsSuccessStatusCode
            ? (string)JsonNode.Parse(body)!["key"]!
            : throw new InvalidOperationException($"Creating a developer API key failed: {(int)response.StatusCode} {body}");
    }
}
