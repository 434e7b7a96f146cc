using System.Security.Cryptography;
using System.Text.Json;
using EdgeInspect.Fleet.Commands;
using EdgeInspect.Fleet.Protocol.Commands;
using EdgeInspect.Fleet.Protocol.Packages;
using EdgeInspect.Fleet.Protocol.Transfer;
using MQTTnet;
using MQTTnet.Protocol;

namespace EdgeInspect.Fleet.Packages;

/// <summary>
/// Cloud side of package delivery: offer (with a statement signed by <paramref name="packageKey"/> for the device, or
/// for <paramref name="fleet"/> when given), send the chunks the device says it lacks (QoS 1), end, read the outcome.
/// A "truncated" or "busy" answer (chunks lost with a dropped link, or refused by a device whose queue was full) leads to
/// a new offer and only the missing chunks, for as long as each round makes progress, up to <c>maxAttempts</c> rounds without.
/// Without a package key the offer is unsigned, and a device refuses it.
/// </summary>
public sealed class FleetPackagePusher(IMqttClient client, FleetCommandClient requests, string topicPrefix, ECDsa? packageKey = null, string? fleet = null,
    TimeProvider? time = null)
{
    /// <summary>
    /// Chunks sent between two barriers. The device's receive path never waits (it refuses what its bounded queue cannot
    /// hold), so the pusher paces itself: every <see cref="Window"/> chunks it repeats the offer and waits for the answer,
    /// which the device gives only after it has processed every chunk before it. Keep it under the device's
    /// <c>Fleet:Transfer:QueueCapacity</c> (64 by default).
    /// </summary>
    public int Window { get; init; } = 24;

    /// <summary>Pushes one package to one device; the device's install reply, or the last refusal.</summary>
    /// <param name="offer">An offer made elsewhere, sent as it is instead of one signed here (tests state packages whose manifest does not parse).</param>
    public async Task<CommandReply> PushAsync(string deviceId, PackageSender sender, TimeSpan replyTimeout, IProgress<PushProgress>? progress,
        CancellationToken cancellationToken, int maxAttempts = 3, TransferOffer? offer = null)
    {
        var given = offer;
        var baseTopic = $"{topicPrefix}/{deviceId}/model/";
        CommandReply? last = null;
        var stalled = 0;
        var lastMissing = int.MaxValue;
        while (stalled < maxAttempts)
        {
            offer = given ?? (packageKey is null
                ? sender.Offer
                : sender.SignedOffer(packageKey, fleet is null ? PackageStatement.DevicePrefix + deviceId : PackageStatement.FleetPrefix + fleet,
                    (time ?? TimeProvider.System).GetUtcNow()));
            var offerBytes = offer.ToBytes();
            var offerReply = await requests.RequestAsync(baseTopic + "offer", offerBytes, replyTimeout, cancellationToken);
            if (offerReply.Error == CommandErrors.Busy)
            {
                stalled++;
                await Task.Delay(TimeSpan.FromMilliseconds(250 * stalled), time ?? TimeProvider.System, cancellationToken);
                continue;
            }
            if (!offerReply.Ok) return offerReply;
            var missing = offerReply.Result?["missing"]?.AsArray().Select(n => n!.GetValue<int>()).ToList() ?? [];
            if (missing.Count < lastMissing) stalled = 0;
            else stalled++;
            lastMissing = missing.Count;
            var sent = 0;
            foreach (var index in missing)
            {
                await client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(baseTopic + "chunk")
                    .WithPayload(sender.ReadChunk(index).Encode())
                    .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build(), cancellationToken);
                progress?.Report(new PushProgress(deviceId, ++sent, missing.Count, sender.Offer.ChunkCount));
                if (sent % Window == 0 && sent < missing.Count)
                {
                    var barrier = await requests.RequestAsync(baseTopic + "offer", offerBytes, replyTimeout, cancellationToken);
                    if (!barrier.Ok && barrier.Error != CommandErrors.Busy) return barrier;
                }
            }
            last = await requests.RequestAsync(baseTopic + "end",
                JsonSerializer.SerializeToUtf8Bytes(new { packageId = sender.Offer.PackageId }), replyTimeout, cancellationToken);
            if (last.Error is not ("truncated" or CommandErrors.Busy)) return last;
        }
        return last!;
    }
}
