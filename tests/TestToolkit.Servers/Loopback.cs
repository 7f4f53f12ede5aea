using System.Net;
using System.Net.Sockets;

namespace LlmAspire.TestToolkit.Servers;

public static class Loopback
{
    /// <summary>A 127.0.0.1 port that was free a moment ago (taken from the kernel, then released): nothing listens on it.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
