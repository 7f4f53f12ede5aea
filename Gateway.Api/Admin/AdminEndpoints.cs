using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using LlmAspire.Gateway.Api.Authentication;
using LlmAspire.Gateway.Api.Ledger;
using LlmAspire.Gateway.Api.OpenAi;
using LlmAspire.Gateway.Api.Requests;
using LlmAspire.Storage;

namespace LlmAspire.Gateway.Api.Admin;

/// <summary>
/// The admin API (docs/admin-api.md): <c>/admin/keys</c> to create, list and revoke API keys, <c>/admin/usage</c> for
/// ledger totals per day, key and model. JSON in snake_case like the OpenAI API; errors in OpenAI's shape. Live
/// figures are the gateway's OpenTelemetry metrics.
/// </summary>
internal static partial class AdminEndpoints
{
    // A repeated property is refused rather than read as its last occurrence.
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        AllowDuplicateProperties = false,
    };

    // The bounds of the api_keys.queue_weight column's check.
    private const int MinQueueWeight = 1;
    private const int MaxQueueWeight = 100;

    public static IEndpointRouteBuilder MapAdminApi(this IEndpointRouteBuilder endpoints)
    {
        var admin = endpoints.MapGroup("/admin").AddEndpointFilter<AdminKeyFilter>().AddEndpointFilter<AdminStorageFilter>();
        admin.MapPost("/keys", CreateKeyAsync);
        admin.MapGet("/keys", ListKeysAsync);
        admin.MapDelete("/keys/{id}", RevokeKeyAsync);
        admin.MapGet("/usage", UsageAsync);
        return endpoints;
    }

    private static async Task CreateKeyAsync(HttpContext context, ApiKeyStore store)
    {
        CreateKeyRequest? request;
        try
        {
            // Read as JSON whatever the Content-Type says, like the inference endpoints.
            request = await JsonSerializer.DeserializeAsync<CreateKeyRequest>(context.Request.Body, Json, context.RequestAborted);
        }
        catch (JsonException exception)
        {
            await OpenAiError.InvalidRequest($"The request body is not valid JSON: {exception.Message}", code: "invalid_json").WriteAsync(context.Response);
            return;
        }

        if (Validate(request) is { } invalid)
        {
            await invalid.WriteAsync(context.Response);
            return;
        }

        var (id, key, hash) = ApiKeyFormat.Create();
        var created = await store.InsertAsync(
            new ApiKeyRecord(id, request!.Name!, request.Tenant!, hash, request.RequestsPerMinute, request.TokensPerMinute, request.MonthlyTokenBudget,
                request.QueueWeight, default, null),
            context.RequestAborted);
        // The only time the whole key is ever shown: it is not stored, only its hash.
        await WriteAsync(context, StatusCodes.Status201Created, new CreatedKey(key, KeyView.From(created)));
    }

    private static async Task ListKeysAsync(HttpContext context, ApiKeyStore store) =>
        await WriteAsync(context, StatusCodes.Status200OK, new ListOf<KeyView>((await store.ListAsync(context.RequestAborted)).Select(KeyView.From).ToList()));

    private static async Task RevokeKeyAsync(HttpContext context, string id, ApiKeyStore store, ApiKeyAuthenticator authenticator)
    {
        var revoked = ApiKeyFormat.IsId(id) ? await store.RevokeAsync(id, context.RequestAborted) : null;
        if (revoked is null)
        {
            await (OpenAiError.InvalidRequest($"No API key with id '{id}'.", "id", "key_not_found") with { Status = StatusCodes.Status404NotFound })
                .WriteAsync(context.Response);
            return;
        }

        // Effective here at once; other replicas stop accepting it within Gateway:Auth:KeyCacheTtl.
        authenticator.Forget(id);
        await WriteAsync(context, StatusCodes.Status200OK, KeyView.From(revoked));
    }

    private static async Task UsageAsync(HttpContext context, LedgerStore ledger, TimeProvider timeProvider)
    {
        var query = context.Request.Query;
        var today = DateOnly.FromDateTime(timeProvider.GetUtcNow().UtcDateTime);
        if (!TryDate(query["from"], new DateOnly(today.Year, today.Month, 1), out var from) || !TryDate(query["to"], today, out var to))
        {
            await OpenAiError.InvalidRequest("'from' and 'to' must be dates (YYYY-MM-DD, UTC).", code: "invalid_date").WriteAsync(context.Response);
            return;
        }

        if (to < from)
        {
            await OpenAiError.InvalidRequest("'to' is before 'from'.", "to", "invalid_date").WriteAsync(context.Response);
            return;
        }

        // The day after the last one ends the range; after the calendar's last day there is none, and the range is open.
        var end = to < DateOnly.MaxValue ? to.AddDays(1).ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc) : DateTime.SpecifyKind(DateTime.MaxValue, DateTimeKind.Utc);
        var totals = await ledger.AggregateAsync(
            from.ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc), end,
            NullIfEmpty(query["key_id"]), NullIfEmpty(query["model"]), context.RequestAborted);
        await WriteAsync(context, StatusCodes.Status200OK, new UsageReport(from, to, totals.Select(UsageLine.From).ToList()));
    }

    private static OpenAiError? Validate(CreateKeyRequest? request)
    {
        if (request is null)
        {
            return OpenAiError.InvalidRequest("The request body must be a JSON object.");
        }

        if (string.IsNullOrWhiteSpace(request.Name) || request.Name.Length > 200)
        {
            return OpenAiError.InvalidRequest("'name' is required (at most 200 characters).", "name", "missing_required_parameter");
        }

        if (request.Name.Any(char.IsControl) || !PostgresText.IsStorable(request.Name))
        {
            return OpenAiError.InvalidRequest("'name' must be text without control characters or unpaired surrogates.", "name");
        }

        if (request.Tenant is null || !TenantPattern().IsMatch(request.Tenant))
        {
            return OpenAiError.InvalidRequest("'tenant' is required: 1 to 64 letters, digits, '.', '_' or '-'.", "tenant", "missing_required_parameter");
        }

        return request.RequestsPerMinute < 0 ? OpenAiError.InvalidRequest("'requests_per_minute' must be 0 (unlimited) or more.", "requests_per_minute")
            : request.TokensPerMinute < 0 ? OpenAiError.InvalidRequest("'tokens_per_minute' must be 0 (unlimited) or more.", "tokens_per_minute")
            : request.MonthlyTokenBudget < 0 ? OpenAiError.InvalidRequest("'monthly_token_budget' must be 0 (unlimited) or more.", "monthly_token_budget")
            : request.QueueWeight is < MinQueueWeight or > MaxQueueWeight
                ? OpenAiError.InvalidRequest($"'queue_weight' must be {MinQueueWeight} to {MaxQueueWeight}.", "queue_weight")
            : null;
    }

    private static bool TryDate(string? value, DateOnly fallback, out DateOnly date)
    {
        date = fallback;
        return string.IsNullOrEmpty(value) || DateOnly.TryParseExact(value, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out date);
    }

    private static string? NullIfEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;

    private static Task WriteAsync<T>(HttpContext context, int status, T body)
    {
        context.Response.StatusCode = status;
        return context.Response.WriteAsJsonAsync(body, Json, context.RequestAborted);
    }

    [GeneratedRegex("^[A-Za-z0-9._-]{1,64}$")]
    private static partial Regex TenantPattern();

    private sealed record CreateKeyRequest(string? Name, string? Tenant, int? RequestsPerMinute, int? TokensPerMinute, long? MonthlyTokenBudget, int? QueueWeight);

    private sealed record KeyView(string Id, string Name, string Tenant, int? RequestsPerMinute, int? TokensPerMinute, long? MonthlyTokenBudget,
        int QueueWeight, DateTime CreatedAt, DateTime? RevokedAt)
    {
        public string Object => "api_key";

        public static KeyView From(ApiKeyRecord key) => new(key.Id, key.Name, key.Tenant, key.RequestsPerMinute, key.TokensPerMinute,
            key.MonthlyTokenBudget, key.QueueWeight ?? CallerIdentity.DefaultQueueWeight, key.CreatedAt, key.RevokedAt);
    }

    private sealed record CreatedKey(string Key, KeyView ApiKey);

    private sealed record ListOf<T>(IReadOnlyList<T> Data)
    {
        public string Object => "list";
    }

    private sealed record UsageReport(DateOnly From, DateOnly To, IReadOnlyList<UsageLine> Data)
    {
        public string Object => "list";
    }

    private sealed record UsageLine(DateOnly Day, string? KeyId, string Tenant, string Model, long Requests, long CachedRequests, long FailedRequests,
        long PromptTokens, long CompletionTokens, long TotalTokens)
    {
        public static UsageLine From(UsageTotals totals) => new(totals.Day, totals.KeyId, totals.Tenant, totals.Model, totals.Requests,
            totals.CachedRequests, totals.FailedRequests, totals.PromptTokens, totals.CompletionTokens, totals.PromptTokens + totals.CompletionTokens);
    }
}
