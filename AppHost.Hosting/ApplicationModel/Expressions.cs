using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;

namespace LlmAspire.Hosting.ApplicationModel;

/// <summary>A value known only when the application runs (a port, a password, a connection string).</summary>
public interface IValueProvider
{
    ValueTask<string?> GetValueAsync(CancellationToken cancellationToken = default);
}

/// <summary>How a value is written in the manifest: <c>{cache.bindings.tcp.port}</c>, <c>{db.connectionString}</c>.</summary>
public interface IManifestExpressionProvider
{
    string ValueExpression { get; }
}

/// <summary>
/// A string made of literal text and run-time values, written as an interpolated string:
/// <c>ReferenceExpression.Create($"{endpoint.Property(EndpointProperty.Host)}:{endpoint.Property(EndpointProperty.Port)}")</c>.
/// It is evaluated when the application runs and written as an expression in the manifest.
/// </summary>
public sealed class ReferenceExpression : IValueProvider, IManifestExpressionProvider
{
    private ReferenceExpression(string format, IReadOnlyList<object> valueProviders)
    {
        Format = format;
        ValueProviders = valueProviders;
    }

    /// <summary>A composite format string (<c>{0}</c>, <c>{1}</c> … stand for <see cref="ValueProviders"/>).</summary>
    public string Format { get; }

    /// <summary>Each is an <see cref="IValueProvider"/> and an <see cref="IManifestExpressionProvider"/>.</summary>
    public IReadOnlyList<object> ValueProviders { get; }

    public string ValueExpression =>
        string.Format(CultureInfo.InvariantCulture, Format, [.. ValueProviders.Select(p => ((IManifestExpressionProvider)p).ValueExpression)]);

    public static ReferenceExpression Create(ref ExpressionInterpolatedStringHandler handler) => handler.Build();

    public async ValueTask<string?> GetValueAsync(CancellationToken cancellationToken = default)
    {
        var values = new object?[ValueProviders.Count];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = await ((IValueProvider)ValueProviders[i]).GetValueAsync(cancellationToken);
        }

        return string.Format(CultureInfo.InvariantCulture, Format, values);
    }

    /// <summary>Evaluates with another meaning for each value (the compose publisher's host names and variables).</summary>
    public string Evaluate(Func<object, string> valueOf) =>
        string.Format(CultureInfo.InvariantCulture, Format, [.. ValueProviders.Select(valueOf)]);

    [InterpolatedStringHandler]
    public ref struct ExpressionInterpolatedStringHandler
    {
        private readonly StringBuilder format;
        private readonly List<object> providers;

        public ExpressionInterpolatedStringHandler(int literalLength, int formattedCount)
        {
            format = new StringBuilder(literalLength + formattedCount * 4);
            providers = new List<object>(formattedCount);
        }

        public readonly void AppendLiteral(string literal) => format.Append(literal.Replace("{", "{{").Replace("}", "}}"));

        public readonly void AppendFormatted<T>(T value) where T : IValueProvider, IManifestExpressionProvider
        {
            format.Append('{').Append(providers.Count.ToString(CultureInfo.InvariantCulture)).Append('}');
            providers.Add(value);
        }

        public readonly void AppendFormatted(string literal) => AppendLiteral(literal);

        internal readonly ReferenceExpression Build() => new(format.ToString(), providers);
    }
}

/// <summary>The connection string of another resource, as <c>{name.connectionString}</c>.</summary>
public sealed class ConnectionStringReference(IResourceWithConnectionString resource) : IValueProvider, IManifestExpressionProvider
{
    public IResourceWithConnectionString Resource { get; } = resource;

    public string ValueExpression => $"{{{Resource.Name}.connectionString}}";

    public ValueTask<string?> GetValueAsync(CancellationToken cancellationToken = default) =>
        Resource.ConnectionStringExpression.GetValueAsync(cancellationToken);
}
