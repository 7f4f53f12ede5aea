namespace LlmAspire.AppHost.Servers;

/// <summary>
/// PostgreSQL run from the machine's own binaries, for machines where Aspire's container cannot run. Connection
/// strings have the shape of Aspire's <c>PostgresServerResource</c> (<c>Host=…;Port=…;Username=postgres;Password=…</c>).
/// </summary>
internal sealed class LocalPostgresResource(string name, string command, string dataDirectory, ParameterResource password)
    : ExecutableResource(name, command, dataDirectory), IResourceWithConnectionString
{
    public const string PrimaryEndpointName = "tcp";
    public const string UserName = "postgres";

    public EndpointReference PrimaryEndpoint => field ??= new(this, PrimaryEndpointName);

    public ParameterResource PasswordParameter { get; } = password;

    /// <summary>The cluster (<c>initdb</c>'s folder).</summary>
    public string ClusterDirectory => Path.Combine(WorkingDirectory, "data");

    /// <summary>The server's Unix socket: only its owner may enter, so local connections are trusted without a password.</summary>
    public string SocketDirectory => Path.Combine(WorkingDirectory, "run");

    internal List<LocalPostgresDatabaseResource> Databases { get; } = [];

    public ReferenceExpression ConnectionStringExpression => ReferenceExpression.Create(
        $"Host={PrimaryEndpoint.Property(EndpointProperty.Host)};Port={PrimaryEndpoint.Property(EndpointProperty.Port)};Username={UserName};Password={PasswordParameter}");

    IEnumerable<KeyValuePair<string, ReferenceExpression>> IResourceWithConnectionString.GetConnectionProperties()
    {
        yield return new("Host", ReferenceExpression.Create($"{PrimaryEndpoint.Property(EndpointProperty.Host)}"));
        yield return new("Port", ReferenceExpression.Create($"{PrimaryEndpoint.Property(EndpointProperty.Port)}"));
        yield return new("Username", ReferenceExpression.Create($"{UserName}"));
        yield return new("Password", ReferenceExpression.Create($"{PasswordParameter}"));
    }
}

/// <summary>A database of a <see cref="LocalPostgresResource"/>, created once the server is up.</summary>
internal sealed class LocalPostgresDatabaseResource(string name, string databaseName, LocalPostgresResource parent)
    : Resource(name), IResourceWithParent<LocalPostgresResource>, IResourceWithConnectionString
{
    public LocalPostgresResource Parent { get; } = parent;

    public string DatabaseName { get; } = databaseName;

    public ReferenceExpression ConnectionStringExpression => ReferenceExpression.Create($"{Parent};Database={DatabaseName}");

    IEnumerable<KeyValuePair<string, ReferenceExpression>> IResourceWithConnectionString.GetConnectionProperties() =>
        ((IResourceWithConnectionString)Parent).GetConnectionProperties()
            .Append(new("DatabaseName", ReferenceExpression.Create($"{DatabaseName}")));
}
