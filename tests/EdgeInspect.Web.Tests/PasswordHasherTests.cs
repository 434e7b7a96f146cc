using System.Security.Cryptography;
using System.Text;
using EdgeInspect.Web.Security;
using Xunit;

namespace EdgeInspect.Web.Tests;

/// <summary>The documented hash format.</summary>
public sealed class PasswordHasherTests
{
    [Fact]
    public void Verify_HashOfSamePassword_TrueOtherwiseFalse()
    {
        var hash = PasswordHasher.Hash("s3cret", 1000);
        Assert.StartsWith("pbkdf2-sha256$1000$", hash);
        Assert.True(PasswordHasher.Verify("s3cret", hash));
        Assert.False(PasswordHasher.Verify("s3cret ", hash));
        Assert.False(PasswordHasher.Verify("s3cret", "plain-text"));
    }

    [Fact]
    public void Verify_HashMadeByAnotherPbkdf2Tool_Accepted()
    {
        // What `python3 -c "import hashlib,base64,os; ..."` in the README writes: the same layout, computed independently.
        var salt = Encoding.ASCII.GetBytes("0123456789abcdef");
        var key = Rfc2898DeriveBytes.Pbkdf2("pw"u8.ToArray(), salt, 2000, HashAlgorithmName.SHA256, 32);
        Assert.True(PasswordHasher.Verify("pw", $"pbkdf2-sha256$2000${Convert.ToBase64String(salt)}${Convert.ToBase64String(key)}"));
    }

    [Theory]
    [InlineData("")]
    [InlineData("pbkdf2-sha256$10$c2FsdHNhbHQ=$a2V5a2V5a2V5a2V5a2V5a2V5")]
    [InlineData("pbkdf2-sha1$1000$c2FsdHNhbHQ=$a2V5a2V5a2V5a2V5a2V5a2V5")]
    [InlineData("pbkdf2-sha256$1000$not base64$a2V5")]
    public void IsWellFormed_BadHash_False(string hash) => Assert.False(PasswordHasher.IsWellFormed(hash));
}
