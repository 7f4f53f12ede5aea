using System.Text.Json;
using System.Text.Json.Serialization;

namespace LlmAspire.ModelManager.Client;

/// <summary>The API's JSON, generated at build time: camelCase names and the other web defaults, as the API has always spoken.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(FleetSnapshot))]
[JsonSerializable(typeof(ModelSnapshot))]
[JsonSerializable(typeof(ActivityReport))]
[JsonSerializable(typeof(ApiError))]
[JsonSerializable(typeof(LifecycleEventList))]
public sealed partial class ModelManagerJsonContext : JsonSerializerContext;
