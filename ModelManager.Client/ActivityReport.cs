namespace LlmAspire.ModelManager.Client;

/// <summary>
/// A gateway replica's activity (<c>POST /api/activity</c>): its whole picture, every few seconds; a model it leaves
/// out has nothing in flight or queued there.
/// </summary>
/// <param name="Replica">Stable for the life of one gateway process.</param>
public sealed record ActivityReport(string Replica, IReadOnlyDictionary<string, ModelActivity> Models);

/// <summary>What one gateway replica says about one model.</summary>
/// <param name="InFlight">Requests forwarded to the model's server.</param>
/// <param name="IdleSeconds">Seconds since the replica's last request for the model ended (0 while one is in flight).</param>
/// <param name="Queued">Requests waiting in the replica's admission queue for the model, or holding a slot while it loads.</param>
public sealed record ModelActivity(int InFlight, double IdleSeconds, int Queued = 0);
