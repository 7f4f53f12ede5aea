using System.Collections;
using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Reflection;
using Microsoft.Extensions.Configuration;

namespace LlmAspire.ServiceDefaults.Configuration;

/// <summary>
/// Checks the raw strings of a configuration section against the shape of an options type: every key must name a
/// property, every value must parse as the property's type and fall inside its <see cref="RangeAttribute"/>, and
/// <see cref="RequiredAttribute"/> properties must end up with a value. Messages name the key (and its environment
/// variable spelling), the value and what is allowed. Sub-sections listed in <c>ownedElsewhere</c> (bound by an options
/// class of their own, e.g. <c>Gateway:Auth</c> inside <c>Gateway</c>) are left to that class's check.
/// </summary>
public static class ConfigurationValueChecker
{
    public static IReadOnlyList<string> Check(IConfigurationSection section, Type optionsType, IReadOnlySet<string>? ownedElsewhere = null)
    {
        var errors = new List<string>();
        CheckObject(section, optionsType, errors, ownedElsewhere ?? new HashSet<string>());
        return errors;
    }

    private static void CheckObject(IConfigurationSection section, Type type, List<string> errors, IReadOnlySet<string> ownedElsewhere)
    {
        var properties = type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanWrite || IsCollection(p.PropertyType))
            .ToDictionary(p => p.Name, StringComparer.OrdinalIgnoreCase);
        var defaults = Activator.CreateInstance(type);

        foreach (var child in section.GetChildren())
        {
            if (!properties.ContainsKey(child.Key) && !ownedElsewhere.Contains(child.Path))
            {
                var value = child.Value is null ? "" : $" = '{child.Value}'";
                errors.Add($"{Describe(child.Path)}{value} is not a known setting; known settings here: {string.Join(", ", properties.Keys.Order())}.");
            }
        }

        foreach (var property in properties.Values)
        {
            var child = section.GetSection(property.Name);
            var required = property.GetCustomAttribute<RequiredAttribute>() is not null;
            if (required && !child.Exists() && IsEmpty(property.GetValue(defaults)))
            {
                errors.Add($"{Describe(child.Path)} is required.");
                continue;
            }

            CheckValue(child, property.PropertyType, property, errors, ownedElsewhere);
        }
    }

    private static void CheckValue(IConfigurationSection section, Type type, PropertyInfo? property, List<string> errors, IReadOnlySet<string> ownedElsewhere)
    {
        if (!section.Exists())
        {
            return;
        }

        var valueType = Nullable.GetUnderlyingType(type) ?? type;
        if (TryGetDictionaryValueType(valueType) is { } dictionaryValueType)
        {
            foreach (var entry in section.GetChildren())
            {
                CheckValue(entry, dictionaryValueType, property: null, errors, ownedElsewhere);
            }

            return;
        }

        if (TryGetListElementType(valueType) is { } elementType)
        {
            foreach (var entry in section.GetChildren())
            {
                CheckValue(entry, elementType, property, errors, ownedElsewhere);
            }

            return;
        }

        if (!IsScalar(valueType))
        {
            CheckObject(section, valueType, errors, ownedElsewhere);
            return;
        }

        var raw = section.Value;
        var required = property?.GetCustomAttribute<RequiredAttribute>() is not null;
        if (string.IsNullOrWhiteSpace(raw))
        {
            if (required || valueType != typeof(string))
            {
                errors.Add($"{Describe(section.Path)} is empty; {Expectation(valueType, property)}.");
            }

            return;
        }

        if (!TryParse(raw, valueType, out var value))
        {
            errors.Add($"{Describe(section.Path)} = '{raw}' is not {Article(valueType)}; {Expectation(valueType, property)}.");
            return;
        }

        if (property?.GetCustomAttribute<RangeAttribute>() is { } range && !InRange(value!, valueType, range))
        {
            errors.Add($"{Describe(section.Path)} = '{raw}' is out of range; {Expectation(valueType, property)}.");
        }
    }

    private static bool InRange(object value, Type type, RangeAttribute range)
    {
        var comparable = (IComparable)value;
        var minimum = ToType(range.Minimum, type);
        var maximum = ToType(range.Maximum, type);
        var aboveMinimum = range.MinimumIsExclusive ? comparable.CompareTo(minimum) > 0 : comparable.CompareTo(minimum) >= 0;
        var belowMaximum = range.MaximumIsExclusive ? comparable.CompareTo(maximum) < 0 : comparable.CompareTo(maximum) <= 0;
        return aboveMinimum && belowMaximum;
    }

    private static object ToType(object bound, Type type) => bound is string text && TryParse(text, type, out var parsed)
        ? parsed!
        : Convert.ChangeType(bound, type, CultureInfo.InvariantCulture);

    private static string Expectation(Type type, PropertyInfo? property)
    {
        if (property?.GetCustomAttribute<RangeAttribute>() is { } range)
        {
            return $"allowed range {range.Minimum} to {range.Maximum}";
        }

        if (type.IsEnum)
        {
            return $"allowed values {string.Join(", ", Enum.GetNames(type))}";
        }

        return $"expected {Article(type)}";
    }

    private static string Article(Type type) => type switch
    {
        _ when type == typeof(int) || type == typeof(long) => "an integer",
        _ when type == typeof(double) => "a number",
        _ when type == typeof(bool) => "true or false",
        _ when type == typeof(TimeSpan) => "a duration (hh:mm:ss or d.hh:mm:ss)",
        _ when type == typeof(Uri) => "an absolute URI",
        _ when type.IsEnum => "a known value",
        _ => "a value",
    };

    private static bool TryParse(string raw, Type type, out object? value)
    {
        var culture = CultureInfo.InvariantCulture;
        var text = raw.Trim();
        (var ok, value) = type switch
        {
            _ when type == typeof(string) => (true, raw),
            _ when type == typeof(int) => (int.TryParse(text, NumberStyles.Integer, culture, out var v), (object)v),
            _ when type == typeof(long) => (long.TryParse(text, NumberStyles.Integer, culture, out var v), v),
            _ when type == typeof(double) => (double.TryParse(text, NumberStyles.Float, culture, out var v) && double.IsFinite(v), v),
            _ when type == typeof(bool) => (bool.TryParse(text, out var v), v),
            _ when type == typeof(TimeSpan) => (TimeSpan.TryParse(text, culture, out var v), v),
            _ when type == typeof(Uri) => (Uri.TryCreate(text, UriKind.Absolute, out var v), v),
            _ when type.IsEnum => (Enum.TryParse(type, text, ignoreCase: true, out var v) && Enum.IsDefined(type, v!), v),
            _ => (false, null),
        };
        return ok;
    }

    private static bool IsScalar(Type type) => type.IsPrimitive || type.IsEnum || type == typeof(string)
        || type == typeof(TimeSpan) || type == typeof(Uri) || type == typeof(decimal);

    private static bool IsCollection(Type type) => TryGetDictionaryValueType(type) is not null || TryGetListElementType(type) is not null;

    private static Type? TryGetDictionaryValueType(Type type) => type.IsGenericType
        && type.GetGenericArguments() is [var key, var value] && key == typeof(string)
        && typeof(IDictionary).IsAssignableFrom(type)
            ? value
            : null;

    private static Type? TryGetListElementType(Type type) => type.IsArray
        ? type.GetElementType()
        : type.IsGenericType && type.GetGenericArguments() is [var element] && typeof(IEnumerable).IsAssignableFrom(type) && type != typeof(string)
            ? element
            : null;

    private static bool IsEmpty(object? value) => value is null || value is string text && string.IsNullOrWhiteSpace(text);

    private static string Describe(string path) => $"{path} (environment {path.Replace(":", "__", StringComparison.Ordinal)})";
}
