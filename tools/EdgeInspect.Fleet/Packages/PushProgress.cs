namespace EdgeInspect.Fleet.Packages;

/// <summary>Progress of one push: chunks sent in this attempt and chunks the device still lacked at the offer.</summary>
public readonly record struct PushProgress(string DeviceId, int Sent, int ToSend, int Total);
