using System.Text.Json;
using EdgeInspect.Fleet.Commands;
using EdgeInspect.Fleet.Protocol.Commands;
using MQTTnet;
using MQTTnet.Protocol;

namespace EdgeInspect.Fleet.Packages;

/// <summary>
/// Cloud side of package delivery: offer, send the chunks the device says it lacks (QoS 1), end, read the outcome.
/// A "truncated" answer (chunks lost with a dropped link) leads to a new offer and only the missing chunks, up to
/// <paramref name="maxAttempts"/> times.
/// </summary>
public sealed class FleetPackagePusher(IMqttClient client, FleetCommandClient requests, string topicPrefix)
{
    /// <summary>Pushes one package to one device; the device's install reply, or the last refusal.</summary>
    public async Task<CommandReply> PushAsync(string deviceId, PackageSender sender, TimeSpan replyTimeout, IProgress<PushProgress>? progress,
        CancellationToken cancellationToken, int maxAttempts = 3)
    {
        var baseTopic = $"{topicPrefix}/{deviceId}/model/";
        CommandReply? last = null;
        for (var attempt = 0; attempt < maxAttempts; attempt++)
        {
            var offerReply = await requests.RequestAsync(baseTopic + "offer", sender.Offer.ToBytes(), replyTimeout, cancellationToken);
            if (!offerReply.Ok) return offerReply;
            var missing = offerReply.Result?["missing"]?.AsArray().Select(n => n!.GetValue<int>()).ToList() ?? [];
            var sent = 0;
            foreach (var index in missing)
            {
                await client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(baseTopic + "chunk")
                    .WithPayload(sender.ReadChunk(index).Encode())
                    .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build(), cancellationToken);
                progress?.Report(new PushProgress(deviceId, ++sent, missing.Count, sender.Offer.ChunkCount));
            }
            last = await requests.RequestAsync(baseTopic + "end",
                JsonSerializer.SerializeToUtf8Bytes(new { packageId = sender.Offer.PackageId }), replyTimeout, cancellationToken);
            if (last.Error != "truncated") return last;
        }
        return last!;
    }
}
