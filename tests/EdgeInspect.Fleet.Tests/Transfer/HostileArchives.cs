using System.Formats.Tar;
using System.Text;
using EdgeInspect.Fleet.Protocol.Packages;

namespace EdgeInspect.Fleet.Tests.Transfer;

/// <summary>
/// Tar archives an attacker who holds a package key (or a compromised build) could sign: each opens with a readable
/// manifest (so the pusher can state its name and version) and then does one hostile thing.
/// </summary>
internal static class HostileArchives
{
    /// <summary>The hostile cases, by name; see <see cref="Write"/>.</summary>
    public static readonly string[] Cases = ["file-then-folder", "dot-dot", "absolute", "symlink", "hardlink", "sparse-10gb"];

    /// <summary>Writes the archive for <paramref name="kind"/> to <paramref name="path"/>; <paramref name="outside"/> is where an escape would land.</summary>
    public static void Write(string kind, string path, string outside)
    {
        using var output = System.IO.File.Create(path);
        using (var tar = new TarWriter(output, TarEntryFormat.Pax, leaveOpen: true))
        {
            tar.WriteEntry(File("manifest.json", System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(TestPackages.Manifest(9), PackageVerifier.ManifestJson)));
            switch (kind)
            {
                case "file-then-folder":
                    tar.WriteEntry(File("a", "first a file"u8.ToArray()));
                    tar.WriteEntry(File("a/b", "then a folder"u8.ToArray()));
                    break;
                case "dot-dot":
                    tar.WriteEntry(File("../x", "escaped"u8.ToArray()));
                    break;
                case "absolute":
                    tar.WriteEntry(File(Path.Combine(outside, "abs"), "escaped"u8.ToArray()));
                    break;
                case "symlink":
                    tar.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, "link") { LinkName = outside });
                    tar.WriteEntry(File("link/through", "escaped"u8.ToArray()));
                    break;
                case "hardlink":
                    tar.WriteEntry(new PaxTarEntry(TarEntryType.HardLink, "hard") { LinkName = "/etc/passwd" });
                    break;
                case "sparse-10gb":
                    break;
                default:
                    throw new ArgumentException(kind, nameof(kind));
            }
        }
        if (kind == "sparse-10gb") WriteSizeClaim(output, "big.onnx", 10L * 1024 * 1024 * 1024);
        // End of archive: two zero blocks (TarWriter wrote them already for the other cases).
        if (kind == "sparse-10gb") output.Write(new byte[1024]);
    }

    /// <summary>An archive of <paramref name="count"/> empty files after the manifest (ustar headers, 512 bytes each).</summary>
    public static void WriteManyEmpty(string path, int count)
    {
        using var output = System.IO.File.Create(path);
        using var tar = new TarWriter(output, TarEntryFormat.Ustar, leaveOpen: false);
        tar.WriteEntry(new UstarTarEntry(TarEntryType.RegularFile, "manifest.json")
        {
            DataStream = new MemoryStream(System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(TestPackages.Manifest(9), PackageVerifier.ManifestJson)),
        });
        for (var i = 0; i < count; i++) tar.WriteEntry(new UstarTarEntry(TarEntryType.RegularFile, $"e/{i}"));
    }

    private static PaxTarEntry File(string name, byte[] data) => new(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(data) };

    /// <summary>
    /// A PAX extended header claiming <paramref name="size"/> bytes (POSIX.1-2008 pax "size" keyword), then the file's
    /// ustar header and no data at all: a reader that trusts the claim allocates or writes that much.
    /// </summary>
    private static void WriteSizeClaim(Stream output, string name, long size)
    {
        // TarWriter left the stream after its own two end-of-archive blocks; step back over them to append.
        output.Seek(-1024, SeekOrigin.End);
        var record = $"size={size}\n";
        var len = record.Length + 3;
        record = $"{len + (len.ToString().Length - 2)} {record}";
        var body = Encoding.ASCII.GetBytes(record);
        output.Write(Header("PaxHeaders/" + name, body.Length, (byte)'x'));
        output.Write(body);
        output.Write(new byte[(512 - (body.Length % 512)) % 512]);
        output.Write(Header(name, 0, (byte)'0'));
    }

    private static byte[] Header(string name, long size, byte type)
    {
        var h = new byte[512];
        Encoding.ASCII.GetBytes(name).CopyTo(h, 0);
        Encoding.ASCII.GetBytes("0000644\0").CopyTo(h, 100);
        Encoding.ASCII.GetBytes("0000000\0").CopyTo(h, 108);
        Encoding.ASCII.GetBytes("0000000\0").CopyTo(h, 116);
        Encoding.ASCII.GetBytes(Convert.ToString(size, 8).PadLeft(11, '0') + "\0").CopyTo(h, 124);
        Encoding.ASCII.GetBytes("00000000000\0").CopyTo(h, 136);
        h[156] = type;
        Encoding.ASCII.GetBytes("ustar\0").CopyTo(h, 257);
        Encoding.ASCII.GetBytes("00").CopyTo(h, 263);
        for (var i = 148; i < 156; i++) h[i] = (byte)' ';
        var sum = h.Sum(b => (int)b);
        Encoding.ASCII.GetBytes(Convert.ToString(sum, 8).PadLeft(6, '0') + "\0 ").CopyTo(h, 148);
        return h;
    }
}
