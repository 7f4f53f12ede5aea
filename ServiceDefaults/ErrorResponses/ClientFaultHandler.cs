using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace LlmAspire.ServiceDefaults.ErrorResponses;

/// <summary>
/// Answers a request that failed while it was being read for a fault of the client's (bad chunked framing, a body too
/// large or sent too slowly: <see cref="BadHttpRequestException"/>) with its status in the service's error shape, and
/// logs it as one Debug line. Handled here, it is not logged by the exception handler as an error with a stack trace:
/// a few hundred slow clients must not fill the log with errors that are not the service's.
/// </summary>
internal sealed partial class ClientFaultHandler(ErrorBody body, ILogger<ClientFaultHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is not BadHttpRequestException fault || context.Response.HasStarted)
        {
            return false;
        }

        LogClientFault(logger, context.Request.Method, context.Request.Path, fault.StatusCode, fault.Message);
        await ErrorResponseExtensions.WriteAsync(context.Response, body, fault.StatusCode, fault.Message, ErrorResponseExtensions.CodeFor(fault.StatusCode));
        return true;
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "{Method} {Path} answered {Status}: the request could not be read ({Reason})")]
    private static partial void LogClientFault(ILogger logger, string method, string path, int status, string reason);
}
