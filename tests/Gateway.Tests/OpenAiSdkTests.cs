using System.ClientModel;
using LlmAspire.Gateway.Tests.Infrastructure;
using OpenAI;
using OpenAI.Chat;

namespace LlmAspire.Gateway.Tests;

/// <summary>The official OpenAI .NET SDK pointed at the gateway works as it does against OpenAI.</summary>
public sealed class OpenAiSdkTests() : SimulatedModelTests("llama", ["--output-tokens", "20"])
{
    private ChatClient Client(string model) =>
        new(model, new ApiKeyCredential("not-checked-yet"), new OpenAIClientOptions { Endpoint = new Uri(Gateway.BaseAddress, "/v1") });

    [Fact]
    public async Task Chat_completion()
    {
        ChatCompletion completion = await Client("llama").CompleteChatAsync([new UserChatMessage("Tell me a story")], cancellationToken: Token);

        Assert.Equal(ChatFinishReason.Stop, completion.FinishReason);
        Assert.False(string.IsNullOrWhiteSpace(completion.Content[0].Text));
        Assert.Equal(20, completion.Usage.OutputTokenCount);
    }

    [Fact]
    public async Task Streamed_chat_completion_matches_the_whole_one()
    {
        var client = Client("llama");
        ChatCompletion whole = await client.CompleteChatAsync([new UserChatMessage("Tell me a story")], cancellationToken: Token);

        var text = new System.Text.StringBuilder();
        await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage("Tell me a story")], cancellationToken: Token))
        {
            foreach (var part in update.ContentUpdate)
            {
                text.Append(part.Text);
            }
        }

        Assert.Equal(whole.Content[0].Text, text.ToString());
    }

    [Fact]
    public async Task Unknown_model_is_the_sdks_404()
    {
        var error = await Assert.ThrowsAsync<ClientResultException>(() => Client("no-such-model").CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: Token));

        Assert.Equal(404, error.Status);
        Assert.Contains("no-such-model", error.Message, StringComparison.Ordinal);
    }
}
