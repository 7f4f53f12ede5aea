using LlmAspire.ServiceDefaults.ErrorResponses;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.DependencyInjection;

namespace Microsoft.Extensions.Hosting;

/// <summary>A service's error body for a status, a message and a machine-readable code, as UTF-8 JSON.</summary>
public delegate byte[] ErrorBody(int status, string message, string code);

/// <summary>
/// Every error answer of a service carries its documented JSON error shape, whoever produces it: the service's own
/// code, the request reading it does (a body with bad chunked framing, too large, or sent too slowly), routing and
/// parameter binding (which set a status without a body), and Kestrel itself, which refuses malformed request heads
/// before any middleware runs. Faults of the client are logged at Debug; only the service's own failures are errors.
/// </summary>
public static class ErrorResponseExtensions
{
    /// <summary>Registers <paramref name="body"/> as the shape of every error answer of the service.</summary>
    public static IServiceCollection AddErrorResponses(this IServiceCollection services, ErrorBody body)
    {
        services.AddSingleton(body);
        services.AddExceptionHandler<ClientFaultHandler>();
        services.AddSingleton<ServerRejectionBodies>();
        services.AddOptions<KestrelServerOptions>().Configure<ServerRejectionBodies>((kestrel, rejections) =>
            kestrel.ConfigureEndpointDefaults(endpoint => endpoint.Use(rejections.Watch)));
        return services;
    }

    /// <summary>
    /// Answers failures of the service with 500 in its shape (client faults are answered by <see cref="ClientFaultHandler"/>
    /// first), and gives error statuses set without a body (unknown path or method, a parameter that does not bind) one.
    /// </summary>
    public static WebApplication UseErrorResponses(this WebApplication app)
    {
        var body = app.Services.GetRequiredService<ErrorBody>();
        app.Services.GetRequiredService<ServerRejectionBodies>().Listen(app.Services.GetRequiredService<System.Diagnostics.DiagnosticListener>());
        app.UseExceptionHandler(errorApp => errorApp.Run(context =>
            WriteAsync(context.Response, body, StatusCodes.Status500InternalServerError, "The server failed to process the request.", "server_error")));
        app.UseStatusCodePages(context =>
        {
            var http = context.HttpContext;
            var status = http.Response.StatusCode;
            var message = status switch
            {
                StatusCodes.Status404NotFound => $"Unknown path: {http.Request.Path}",
                StatusCodes.Status405MethodNotAllowed => $"Method {http.Request.Method} is not allowed on {http.Request.Path}",
                _ => ReasonPhrases.GetReasonPhrase(status),
            };
            return WriteAsync(http.Response, body, status, message, CodeFor(status));
        });
        return app;
    }

    /// <summary>The machine-readable code of an error status the service did not give one itself.</summary>
    public static string CodeFor(int status) => status switch
    {
        StatusCodes.Status404NotFound => "unknown_url",
        StatusCodes.Status405MethodNotAllowed => "method_not_allowed",
        StatusCodes.Status408RequestTimeout => "request_timeout",
        StatusCodes.Status411LengthRequired => "length_required",
        StatusCodes.Status413PayloadTooLarge => "request_too_large",
        StatusCodes.Status414UriTooLong => "request_line_too_long",
        StatusCodes.Status431RequestHeaderFieldsTooLarge => "request_headers_too_large",
        < StatusCodes.Status500InternalServerError => "invalid_request",
        _ => "server_error",
    };

    internal static Task WriteAsync(HttpResponse response, ErrorBody body, int status, string message, string code)
    {
        var json = body(status, message, code);
        response.StatusCode = status;
        response.ContentType = "application/json";
        response.ContentLength = json.Length;
        return response.Body.WriteAsync(json, response.HttpContext.RequestAborted).AsTask();
    }
}
