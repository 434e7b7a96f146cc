using EdgeInspect.Core.Automation;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EdgeInspect.Core.Configuration;

/// <summary>
/// Binds a device-config section to typed options once and validates it when the host starts, so a bad value stops
/// the service at boot with one message naming the key ("Store:BudgetBytes: ...") instead of at the first frame.
/// </summary>
public static class ValidatedOptions
{
    /// <summary>
    /// Registers <typeparamref name="T"/> bound from <paramref name="section"/> with <paramref name="validate"/> run at
    /// start (<c>ValidateOnStart</c>) and on every first read. <paramref name="validate"/> throws
    /// <see cref="ConfigValueException"/>, <see cref="InvalidOperationException"/> or <see cref="ArgumentException"/>
    /// with a message that starts with the key.
    /// </summary>
    public static OptionsBuilder<T> AddValidatedSection<T>(this IServiceCollection services, IConfiguration configuration,
        string section, Action<T> validate) where T : class
    {
        services.AddSingleton<IValidateOptions<T>>(new DelegateValidator<T>(validate));
        return services.AddOptions<T>().Bind(configuration.GetSection(section)).ValidateOnStart();
    }

    /// <summary>The first failure of an options validation, as the one line a user sees ("Key: reason").</summary>
    public static string FirstFailure(OptionsValidationException e) => e.Failures.FirstOrDefault() ?? e.Message;

    private sealed class DelegateValidator<T>(Action<T> validate) : IValidateOptions<T> where T : class
    {
        public ValidateOptionsResult Validate(string? name, T options)
        {
            try
            {
                validate(options);
                return ValidateOptionsResult.Success;
            }
            catch (Exception e) when (e is ConfigValueException or InvalidOperationException or ArgumentException)
            {
                return ValidateOptionsResult.Fail(e.Message);
            }
        }
    }
}
