// The benchmark's floor for a .NET proxy: Kestrel and YARP's forwarder with nothing of the gateway's own (no body
// parsing, routing by model, admission, deadlines, usage or ledger). What it adds over the simulator is what any
// ASP.NET Core proxy on this machine pays; the gateway's cost above it is what its features cost.
// Usage: ReferenceForwarder --route http://127.0.0.1:PORT=http://UPSTREAM [--route ...]
using System.Net;
using Yarp.ReverseProxy.Forwarder;

var routes = args.Select((arg, i) => (arg, i)).Where(x => x.arg == "--route" && x.i + 1 < args.Length)
    .Select(x => args[x.i + 1].Split('=', 2)).Select(pair => (Listen: new Uri(pair[0]), Upstream: pair[1])).ToList();
if (routes.Count == 0 || routes.Any(route => !IPAddress.IsLoopback(IPAddress.Parse(route.Listen.Host))))
{
    Console.Error.WriteLine("usage: ReferenceForwarder --route http://127.0.0.1:PORT=http://UPSTREAM [--route ...] (loopback listeners only)");
    return 2;
}

var builder = WebApplication.CreateSlimBuilder();
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.Services.AddHttpForwarder();
builder.WebHost.ConfigureKestrel(kestrel =>
{
    foreach (var (listen, _) in routes)
    {
        kestrel.Listen(IPAddress.Parse(listen.Host), listen.Port);
    }
});

var app = builder.Build();
// The same pooled handler settings YARP documents for a forwarder: no proxy, redirects, decompression or cookies.
var invoker = new HttpMessageInvoker(new SocketsHttpHandler
{
    UseProxy = false,
    AllowAutoRedirect = false,
    AutomaticDecompression = DecompressionMethods.None,
    UseCookies = false,
    ConnectTimeout = TimeSpan.FromSeconds(10),
});
foreach (var (listen, upstream) in routes)
{
    app.MapForwarder("/{**path}", upstream, ForwarderRequestConfig.Empty, HttpTransformer.Empty, invoker).RequireHost($"*:{listen.Port}");
}

app.Run();
return 0;
