using System.Formats.Tar;

namespace EdgeInspect.Fleet.Protocol.Packages;

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
