using System.Runtime.InteropServices;

namespace LlmAspire.TestToolkit.Docker;

/// <summary>The libc calls the engine's file systems need: resolving paths for the image, detaching mounts left behind.</summary>
internal static partial class FileSystemCalls
{
    /// <summary>The canonical path (every symbolic link resolved), as the kernel would find it.</summary>
    public static string RealPath(string path)
    {
        var resolved = RealPathNative(path, IntPtr.Zero);
        if (resolved == IntPtr.Zero)
        {
            throw new IOException($"realpath({path}) failed: errno {Marshal.GetLastPInvokeError()}");
        }

        try
        {
            return Marshal.PtrToStringUTF8(resolved)!;
        }
        finally
        {
            Free(resolved);
        }
    }

    /// <summary>Lazily detaches a mount (what <c>umount -l</c> does).</summary>
    public static bool Unmount(string path) => Umount2(path, 2 /* MNT_DETACH */) == 0;

    [LibraryImport("libc", EntryPoint = "umount2", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Umount2(string target, int flags);

    [LibraryImport("libc", EntryPoint = "realpath", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial IntPtr RealPathNative(string path, IntPtr resolved);

    [LibraryImport("libc", EntryPoint = "free")]
    private static partial void Free(IntPtr pointer);
}
