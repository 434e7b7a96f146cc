using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace EdgeInspect.Web.Security;

/// <summary>
/// Technician password hashes: PBKDF2 (RFC 8018) with HMAC-SHA256, written as
/// <c>pbkdf2-sha256$&lt;iterations&gt;$&lt;salt, base64&gt;$&lt;32-byte key, base64&gt;</c>, the layout passlib and Django use,
/// so any PBKDF2 implementation (Python's <c>hashlib.pbkdf2_hmac</c>) can make one.
/// </summary>
public static class PasswordHasher
{
    /// <summary>The format, for messages.</summary>
    public const string FormatDescription = "pbkdf2-sha256$<iterations>$<salt base64>$<key base64>";

    /// <summary>Iterations for new hashes: OWASP's 2023 figure for PBKDF2-HMAC-SHA256.</summary>
    public const int DefaultIterations = 600_000;

    private const string Prefix = "pbkdf2-sha256";
    private const int KeyBytes = 32;
    private const int MinIterations = 1000;

    /// <summary>A new hash of <paramref name="password"/> with a random 16-byte salt.</summary>
    public static string Hash(string password, int iterations = DefaultIterations)
    {
        ArgumentException.ThrowIfNullOrEmpty(password);
        ArgumentOutOfRangeException.ThrowIfLessThan(iterations, MinIterations);
        var salt = RandomNumberGenerator.GetBytes(16);
        var key = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, iterations, HashAlgorithmName.SHA256, KeyBytes);
        return string.Join('$', Prefix, iterations.ToString(CultureInfo.InvariantCulture), Convert.ToBase64String(salt), Convert.ToBase64String(key));
    }

    /// <summary>Whether <paramref name="hash"/> parses in the documented format.</summary>
    public static bool IsWellFormed(string? hash) => TryParse(hash, out _, out _, out _);

    /// <summary>Whether <paramref name="password"/> matches <paramref name="hash"/> (constant-time comparison).</summary>
    public static bool Verify(string? password, string? hash)
    {
        if (string.IsNullOrEmpty(password) || !TryParse(hash, out int iterations, out var salt, out var expected)) return false;
        var key = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, iterations, HashAlgorithmName.SHA256, expected.Length);
        return CryptographicOperations.FixedTimeEquals(key, expected);
    }

    private static bool TryParse(string? hash, out int iterations, out byte[] salt, out byte[] key)
    {
        iterations = 0;
        salt = key = [];
        var parts = hash?.Split('$');
        if (parts is not { Length: 4 } || parts[0] != Prefix) return false;
        if (!int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out iterations) || iterations < MinIterations) return false;
        try
        {
            salt = Convert.FromBase64String(parts[2]);
            key = Convert.FromBase64String(parts[3]);
        }
        catch (FormatException) { return false; }
        return salt.Length >= 8 && key.Length >= 16;
    }
}
