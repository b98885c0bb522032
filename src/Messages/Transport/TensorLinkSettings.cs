using Akka.Configuration;

namespace Distributed.Messages.Transport;

/// <summary>Where a parameter server listens for tensor links, read from <c>distributed.tensor-link</c>.</summary>
/// <param name="BindHost">Address to listen on.</param>
/// <param name="PublicHost">Name workers connect to.</param>
/// <param name="Port">TCP port; 0 picks a free one.</param>
public sealed record TensorLinkSettings(string BindHost, string PublicHost, int Port)
{
    /// <summary>The settings, or null when the section is missing or <c>enabled = off</c> (tensors then use Akka.Remote only).</summary>
    public static TensorLinkSettings? From(Config config)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (!config.HasPath("distributed.tensor-link.enabled") || !config.GetBoolean("distributed.tensor-link.enabled"))
            return null;
        string host = config.GetString("distributed.tensor-link.hostname", "127.0.0.1");
        string publicHost = config.GetString("distributed.tensor-link.public-hostname", host);
        return new TensorLinkSettings(host, publicHost, config.GetInt("distributed.tensor-link.port", 0));
    }
}
