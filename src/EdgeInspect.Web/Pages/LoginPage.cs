using System.Text;

namespace EdgeInspect.Web.Pages;

/// <summary>The technician login form.</summary>
public static class LoginPage
{
    /// <summary>The form, with <paramref name="error"/> above it when the last try failed.</summary>
    public static string Render(string csrfToken, string returnUrl, string? error)
    {
        var sb = new StringBuilder("<section><h3>Technician login</h3>");
        if (error is not null) sb.Append("<p id=\"login-error\" class=\"refused\">").Append(Html.E(error)).Append("</p>");
        sb.Append("<form id=\"login-form\" method=\"post\" action=\"/login\"><input type=\"hidden\" name=\"__csrf\" value=\"").Append(Html.E(csrfToken)).Append("\">")
            .Append("<input type=\"hidden\" name=\"returnUrl\" value=\"").Append(Html.E(returnUrl)).Append("\">")
            .Append("<label>name <input name=\"name\" id=\"name\" autocomplete=\"username\" required></label><br>")
            .Append("<label>password <input name=\"password\" id=\"password\" type=\"password\" autocomplete=\"current-password\" required></label><br>")
            .Append("<button type=\"submit\" id=\"login\">Log in</button></form></section>");
        return Html.Page("Login", "/login", sb.ToString(), null);
    }
}
