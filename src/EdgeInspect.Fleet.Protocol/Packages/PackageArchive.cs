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

    /// <summary>Entries a package archive may hold by default: a package is a manifest, a few networks and golden images.</summary>
    public const int DefaultMaxEntries = 1024;

    /// <summary>
    /// Unpacks <paramref name="archivePath"/> into <paramref name="destination"/>; throws <see cref="PackageRefusedException"/>
    /// for anything but plain files and folders inside it, a path met twice or as both file and folder, more than
    /// <paramref name="maxEntries"/> entries, or more than <paramref name="maxUnpackedBytes"/> in all. Sizes are checked
    /// on the header, before any data is read, so a 10 GB size claim costs nothing. Any IO failure while unpacking is a
    /// refusal too: a hostile archive must never surface as an unexpected exception.
    /// </summary>
    public static void Extract(string archivePath, string destination, long maxUnpackedBytes, int maxEntries = DefaultMaxEntries)
    {
        try
        {
            ExtractChecked(archivePath, destination, maxUnpackedBytes, maxEntries);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new PackageRefusedException(RefusalCode.ArchiveInvalid, $"package archive: cannot be unpacked ({ex.GetType().Name}: {ex.Message})");
        }
    }

    private static void ExtractChecked(string archivePath, string destination, long maxUnpackedBytes, int maxEntries)
    {
        Directory.CreateDirectory(destination);
        var root = Path.GetFullPath(destination);
        long total = 0;
        var entries = 0;
        // Paths already unpacked, files and folders apart: 'a' then 'a/b' (or the reverse, or 'a' twice) is refused here
        // with a reason instead of failing in the file system.
        var files = new HashSet<string>(StringComparer.Ordinal);
        var folders = new HashSet<string>(StringComparer.Ordinal) { root };
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
                catch (Exception ex) when (ex is InvalidDataException or FormatException or EndOfStreamException or OverflowException)
                {
                    throw new PackageRefusedException(RefusalCode.ArchiveInvalid, $"package archive: damaged tar ({ex.Message})");
                }
                if (entry is null) break;
                if (++entries > maxEntries)
                    throw new PackageRefusedException(RefusalCode.ArchiveInvalid, $"package archive: more than {maxEntries} entries");
                if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.Directory))
                    throw new PackageRefusedException(RefusalCode.UnsafePath, $"package archive: entry '{Clip(entry.Name)}' is a {entry.EntryType}, only files and folders are allowed");
                var target = PackageVerifier.ResolveInside(destination, entry.Name)
                    ?? throw new PackageRefusedException(RefusalCode.UnsafePath, $"package archive: entry '{Clip(entry.Name)}' leaves the package folder");
                target = target.TrimEnd(Path.DirectorySeparatorChar);
                if (target.Length <= root.Length)
                    throw new PackageRefusedException(RefusalCode.UnsafePath, $"package archive: entry '{Clip(entry.Name)}' names the package folder itself");
                if (files.Contains(target) || (entry.EntryType is not TarEntryType.Directory && folders.Contains(target)))
                    throw new PackageRefusedException(RefusalCode.UnsafePath, $"package archive: entry '{Clip(entry.Name)}' repeats or overlaps an earlier entry");
                for (var parent = Path.GetDirectoryName(target); parent is not null && parent.Length > root.Length; parent = Path.GetDirectoryName(parent))
                {
                    if (files.Contains(parent))
                        throw new PackageRefusedException(RefusalCode.UnsafePath, $"package archive: entry '{Clip(entry.Name)}' needs a folder where an earlier entry is a file");
                    folders.Add(parent);
                }
                if (entry.EntryType is TarEntryType.Directory)
                {
                    folders.Add(target);
                    Directory.CreateDirectory(target);
                    continue;
                }
                if (entry.Length < 0 || (total += entry.Length) > maxUnpackedBytes)
                    throw new PackageRefusedException(RefusalCode.Oversize, $"package archive: unpacks to more than {maxUnpackedBytes} bytes (entry '{Clip(entry.Name)}' claims {entry.Length})");
                files.Add(target);
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                using var fs = new FileStream(target, FileMode.CreateNew, FileAccess.Write, FileShare.None);
                entry.DataStream?.CopyTo(fs);
                if (fs.Length != entry.Length)
                    throw new PackageRefusedException(RefusalCode.ArchiveInvalid, $"package archive: entry '{Clip(entry.Name)}' holds {fs.Length} bytes, its header says {entry.Length}");
            }
        }
    }

    private static string Clip(string s) => s.Length > 80 ? s[..80] + "..." : s;
}
