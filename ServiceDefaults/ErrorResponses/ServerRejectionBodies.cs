using System.Diagnostics;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Hosting;

namespace LlmAspire.ServiceDefaults.ErrorResponses;

/// <summary>
/// Gives the requests Kestrel refuses by itself (a malformed request line or header, headers too large, a NUL in the
/// path, a request head sent too slowly) the service's error body. Kestrel answers those before any middleware runs,
/// with <c>Content-Length: 0</c>, and offers no way to change that; but it reports each as the diagnostic event
/// <c>Microsoft.AspNetCore.Server.Kestrel.BadRequest</c> just before writing its answer. Every connection's output
/// goes through a <see cref="RejectionBodyWriter"/>, which passes bytes straight on until such an event arms it; it
/// then puts the body into the one answer that follows, the last one of the connection.
/// </summary>
internal sealed class ServerRejectionBodies(ErrorBody body) : IObserver<KeyValuePair<string, object?>>, IDisposable
{
    private const string BadRequestEvent = "Microsoft.AspNetCore.Server.Kestrel.BadRequest";

    private IDisposable? subscription;

    /// <summary>Subscribes to Kestrel's diagnostic events (the host's listener is Kestrel's).</summary>
    public void Listen(DiagnosticListener diagnostics) =>
        subscription ??= diagnostics.Subscribe(this, (name, _, _) => name == BadRequestEvent);

    /// <summary>Connection middleware: the connection's output is written through a <see cref="RejectionBodyWriter"/>.</summary>
    public ConnectionDelegate Watch(ConnectionDelegate next) => async connection =>
    {
        var transport = connection.Transport;
        var writer = new RejectionBodyWriter(transport.Output);
        connection.Transport = new DuplexPipe(transport.Input, writer);
        // Request features fall back to the connection's, so the event's payload finds the writer.
        connection.Features.Set(writer);
        await next(connection);
    };

    public void OnNext(KeyValuePair<string, object?> value)
    {
        // The payload is the refused request's feature collection; HTTP/2 and HTTP/3 refuse with frames, not answers.
        if (value.Value is IFeatureCollection features
            && features.Get<RejectionBodyWriter>() is { } writer
            && features.Get<IBadRequestExceptionFeature>()?.Error is BadHttpRequestException refused
            && features.Get<IHttpResponseFeature>() is { HasStarted: false }
            && features.Get<IHttpRequestFeature>()?.Protocol is not ("HTTP/2" or "HTTP/3"))
        {
            writer.ExpectEmptyAnswer(body(refused.StatusCode, refused.Message, ErrorResponseExtensions.CodeFor(refused.StatusCode)));
        }
    }

    public void OnError(Exception error)
    {
    }

    public void OnCompleted()
    {
    }

    public void Dispose() => subscription?.Dispose();

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}
