using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace LlmAspire.Gateway.Tests.Infrastructure;

/// <summary>
/// A ModelManager double speaking its API contract (docs/modelmanager.md) on a free loopback port, so that the
/// gateway's side of it can be driven exactly: what the catalog says, what ensure answers and when, which calls came.
/// </summary>
public sealed class FakeModelManager : IAsyncDisposable
{
    public const string Token = "fake-manager-token";
    private readonly WebApplication app;
    private readonly Lock gate = new();
    private readonly Dictionary<string, JsonObject> models = new(StringComparer.Ordinal);
    private TaskCompletionSource changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long version = 1;

    private FakeModelManager(WebApplication app) => this.app = app;

    public Uri BaseAddress => new(app.Urls.First());

    /// <summary>Answers ensure calls: (model, verify) → the model now ready at an endpoint, or an error result.</summary>
    public Func<string, bool, Task<IResult>>? OnEnsure { get; set; }

    public ConcurrentQueue<(string Model, bool Verify)> EnsureCalls { get; } = new();

    public ConcurrentQueue<JsonObject> ActivityReports { get; } = new();

    public static async Task<FakeModelManager> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder(["--urls", "http://127.0.0.1:0", "--Logging:LogLevel:Default", "Warning"]);
        var app = builder.Build();
        var fake = new FakeModelManager(app);
        var api = app.MapGroup("/api").AddEndpointFilter(async (context, next) =>
            context.HttpContext.Request.Headers.Authorization == $"Bearer {Token}" ? await next(context) : Results.StatusCode(401));
        api.MapGet("/changes", fake.ChangesAsync);
        api.MapPost("/models/{id}/ensure", fake.EnsureAsync);
        api.MapPost("/activity", async (HttpContext context) =>
        {
            fake.ActivityReports.Enqueue((await JsonNode.ParseAsync(context.Request.Body))!.AsObject());
            return Results.NoContent();
        });
        await app.StartAsync(TestContext.Current.CancellationToken);
        return fake;
    }

    /// <summary>Sets a catalog model's state (and endpoint while ready) as a new catalog version.</summary>
    public JsonObject Set(string id, string state, Uri? endpoint = null, int maxConcurrency = 8)
    {
        lock (gate)
        {
            version++;
            var model = new JsonObject
            {
                ["id"] = id,
                ["runtime"] = "process",
                ["state"] = state,
                ["endpoint"] = endpoint?.ToString(),
                ["maxConcurrency"] = maxConcurrency,
                ["lastError"] = null,
                ["version"] = version,
            };
            models[id] = model;
            changed.TrySetResult();
            changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return (JsonObject)model.DeepClone();
        }
    }

    /// <summary>Forgets the catalog and counts versions from the start again, as a restarted ModelManager does.</summary>
    public void Restart()
    {
        lock (gate)
        {
            models.Clear();
            version = 0;
        }
    }

    /// <summary>Lists the model as stopped; an ensure then "loads" it for <paramref name="loadTime"/> and answers it ready at <paramref name="endpoint"/>.</summary>
    public void LoadsAfter(string id, Uri endpoint, TimeSpan loadTime, int maxConcurrency = 8)
    {
        Set(id, "stopped", maxConcurrency: maxConcurrency);
        OnEnsure = async (model, _) =>
        {
            await Task.Delay(loadTime, TestContext.Current.CancellationToken);
            return Ready(model, endpoint, maxConcurrency);
        };
    }

    /// <summary>An ensure answer that makes the model ready at <paramref name="endpoint"/>.</summary>
    public IResult Ready(string id, Uri endpoint, int maxConcurrency = 8) =>
        Results.Text(Set(id, "ready", endpoint, maxConcurrency).ToJsonString(), "application/json");

    public static IResult Error(int status, string message, string code, int retryAfterSeconds = 1) => new ErrorResult(status, message, code, retryAfterSeconds);

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync(CancellationToken.None);
        await app.DisposeAsync();
    }

    private async Task<IResult> ChangesAsync(long? since, double? timeoutSeconds, HttpContext context)
    {
        Task waitFor;
        lock (gate)
        {
            waitFor = since == version ? changed.Task : Task.CompletedTask;
        }

        try
        {
            await waitFor.WaitAsync(TimeSpan.FromSeconds(timeoutSeconds ?? 30), context.RequestAborted);
        }
        catch (TimeoutException)
        {
        }

        lock (gate)
        {
            var fleet = new JsonObject
            {
                ["version"] = version,
                ["models"] = new JsonArray([.. models.Values.Select(model => model.DeepClone())]),
            };
            return Results.Text(fleet.ToJsonString(), "application/json");
        }
    }

    private async Task<IResult> EnsureAsync(string id, bool? verify)
    {
        EnsureCalls.Enqueue((id, verify == true));
        return OnEnsure is { } answer ? await answer(id, verify == true) : Error(404, $"Model '{id}' is not in the catalog.", "model_not_found");
    }

    private sealed class ErrorResult(int status, string message, string code, int retryAfterSeconds) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.StatusCode = status;
            httpContext.Response.Headers.RetryAfter = retryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return httpContext.Response.WriteAsJsonAsync(
                new { error = new { message, type = status < 500 ? "invalid_request_error" : "server_error", code } }, JsonSerializerOptions.Web);
        }
    }
}
