using System.Formats.Tar;
using System.Security.Cryptography;
using System.Text.Json;
using EdgeInspect.Core.Packages;
using EdgeInspect.Core.Packages.Signing;

namespace EdgeInspect.Core.Fleet;

/// <summary>
/// A package folder as one archive for transfer: a plain POSIX tar (System.Formats.Tar, no native package).
/// ONNX weights barely compress, so no gzip. Extraction refuses links, absolute paths and '..' entries and caps
/// the unpacked size, since the archive is untrusted until its manifest signature has been checked.
/// </summary>
public static class PackageArchive
{
    public static void Create(string folder, string archivePath)
    {
        using var output = File.Create(archivePath);
        using var writer = new TarWriter(output, TarEntryFormat.Pax, leaveOpen: false);
        foreach (var file in Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var rel = Path.GetRelativePath(folder, file).Replace(Path.DirectorySeparatorChar, '/');
            writer.WriteEntry(file, rel);
        }
    }

    public static void Extract(string archivePath, string destination, long maxUnpackedBytes)
    {
        Directory.CreateDirectory(destination);
        long total = 0;
        using var input = File.OpenRead(archivePath);
        TarReader reader;
        try
        {
            reader = new TarReader(input);
        }
        catch (Exception ex) when (ex is InvalidDataException or FormatException)
        {
            throw new PackageRefusedException(RefusalCode.ArchiveInvalid, $"package archive: not a tar ({ex.Message})");
        }
        using (reader)
        {
            while (true)
            {
                TarEntry? entry;
                try
                {
                    entry = reader.GetNextEntry();
                }
                catch (Exception ex) when (ex is InvalidDataException or FormatException or EndOfStreamException)
                {
                    throw new PackageRefusedException(RefusalCode.ArchiveInvalid, $"package archive: damaged tar ({ex.Message})");
                }
                if (entry is null) break;
                if (entry.EntryType is TarEntryType.Directory) continue;
                if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile))
                    throw new PackageRefusedException(RefusalCode.UnsafePath, $"package archive: entry '{entry.Name}' is a {entry.EntryType}, only files are allowed");
                var target = PackageVerifier.ResolveInside(destination, entry.Name)
                    ?? throw new PackageRefusedException(RefusalCode.UnsafePath, $"package archive: entry '{entry.Name}' leaves the package folder");
                total += entry.Length;
                if (total > maxUnpackedBytes)
                    throw new PackageRefusedException(RefusalCode.Oversize, $"package archive: unpacks to more than {maxUnpackedBytes} bytes");
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                using var fs = File.Create(target);
                entry.DataStream?.CopyTo(fs);
            }
        }
    }
}

/// <summary>
/// Builds a signed package from a folder (the fleet tool's "pack"): fills in the SHA-256 of every file the
/// manifest names, writes manifest.json, signs those exact bytes into manifest.sig.
/// </summary>
public static class PackageBuilder
{
    public static ModelManifest SignFolder(string folder, ECDsa key, long? version = null)
    {
        var manifestPath = Path.Combine(folder, PackageVerifier.ManifestFileName);
        if (!File.Exists(manifestPath))
            throw new PackageRefusedException(RefusalCode.MissingManifest, $"{manifestPath}: not found");
        var manifest = PackageVerifier.ParseManifest(File.ReadAllBytes(manifestPath));
        if (version is { } v) manifest.Version = v;
        void Fill(string field, string file, Action<string> set)
        {
            var path = PackageVerifier.ResolveInside(folder, file)
                ?? throw new PackageRefusedException(RefusalCode.UnsafePath, $"{manifestPath}: {field}.file '{file}' leaves the folder");
            if (!File.Exists(path)) throw new PackageRefusedException(RefusalCode.MissingFile, $"{path}: named by {field} but missing");
            using var s = File.OpenRead(path);
            set(Convert.ToHexStringLower(SHA256.HashData(s)));
        }
        if (manifest.Detector is { } det)
        {
            for (var i = 0; i < det.Stages.Count; i++)
            {
                var st = det.Stages[i];
                Fill($"detector.stages[{i}]", st.File, h => st.Sha256 = h);
            }
        }
        if (manifest.Classifier is { } cls) Fill("classifier", cls.File, h => cls.Sha256 = h);
        foreach (var (g, i) in manifest.Golden.Select((g, i) => (g, i))) Fill($"golden[{i}]", g.File, h => g.Sha256 = h);

        var bytes = JsonSerializer.SerializeToUtf8Bytes(manifest, PackageVerifier.ManifestJson);
        File.WriteAllBytes(manifestPath, bytes);
        File.WriteAllBytes(Path.Combine(folder, PackageSignature.FileName), PackageSignature.Sign(bytes, key).ToBytes());
        return manifest;
    }
}
