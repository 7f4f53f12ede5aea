using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace LlmAspire.AppHost.Gateway;

/// <summary>The gateway's admin API (docs/admin-api.md) as the AppHost uses it: making API keys for the developer.</summary>
internal sealed class GatewayAdminApi(HttpClient http, ProjectResource gateway, ParameterResource adminKey)
{
    private Uri Address(string path) => new(new Uri(gateway.GetEndpoint("http").Url), path);

    /// <summary>Creates a key for tenant <c>developer</c> with the gateway's default limits; the answer is the whole key, shown only now.</summary>
    public async Task<string> CreateKeyAsync(string name, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, Address("/admin/keys"))
        {
            Content = JsonContent.Create(new { name, tenant = "developer" }),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", await adminKey.GetValueAsync(cancellationToken));
        using var response = await http.SendAsync(request, cancellationToken);
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        return response.StatusCode == HttpStatusCode.Created && JsonNode.Parse(body)?["key"]?.GetValue<string>() is { } key
            ? key
            : throw new HttpRequestException($"The gateway did not create an API key: {(int)response.StatusCode} {body}");
    }

    /// <summary>Whether the gateway still accepts <paramref name="key"/> (it may have been revoked, or the database reset).</summary>
    public async Task<bool> AcceptsAsync(string key, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Address("/v1/models"));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        using var response = await http.SendAsync(request, cancellationToken);
        return response.StatusCode != HttpStatusCode.Unauthorized;
    }
}
