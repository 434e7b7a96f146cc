"""MTCNN-sized networks (Zhang et al. 2016, figure 2) without the landmark head, plus a small
region classifier. Trained in NCHW; exported behind a wrapper that takes the canonical MTCNN
tensor convention (channels last, width and height swapped: an H x W image is [N, W, H, 3]) so the
generic C# cascade runs these packages through the same code path as the canonical weights."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class PNet(nn.Module):
    """12 x 12 receptive field, output stride 2, fully convolutional."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, 10, 3), nn.PReLU(10), nn.MaxPool2d(2, 2, ceil_mode=True),
            nn.Conv2d(10, 16, 3), nn.PReLU(16),
            nn.Conv2d(16, 32, 3), nn.PReLU(32))
        self.cls = nn.Conv2d(32, 2, 1)
        self.box = nn.Conv2d(32, 4, 1)

    def forward(self, x):
        f = self.body(x)
        return self.cls(f), self.box(f)  # [N,2,H',W'] logits, [N,4,H',W']


class RNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, 28, 3), nn.PReLU(28), nn.MaxPool2d(3, 2, ceil_mode=True),
            nn.Conv2d(28, 48, 3), nn.PReLU(48), nn.MaxPool2d(3, 2, ceil_mode=True),
            nn.Conv2d(48, 64, 2), nn.PReLU(64), nn.Flatten(),
            nn.Linear(64 * 3 * 3, 128), nn.PReLU(128))
        self.cls = nn.Linear(128, 2)
        self.box = nn.Linear(128, 4)

    def forward(self, x):
        f = self.body(x)
        return self.cls(f), self.box(f)


class ONet(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, 32, 3), nn.PReLU(32), nn.MaxPool2d(3, 2, ceil_mode=True),
            nn.Conv2d(32, 64, 3), nn.PReLU(64), nn.MaxPool2d(3, 2, ceil_mode=True),
            nn.Conv2d(64, 64, 3), nn.PReLU(64), nn.MaxPool2d(2, 2, ceil_mode=True),
            nn.Conv2d(64, 128, 2), nn.PReLU(128), nn.Flatten(),
            nn.Linear(128 * 3 * 3, 256), nn.Dropout(0.25), nn.PReLU(256))
        self.cls = nn.Linear(256, 2)
        self.box = nn.Linear(256, 4)

    def forward(self, x):
        f = self.body(x)
        return self.cls(f), self.box(f)


class Classifier(nn.Module):
    """Region classifier on 48 x 48 crops: four conv + batch-norm layers (about 7.5 M multiply-adds per
    crop, small enough to train in minutes on two CPU cores), global average pooling."""

    def __init__(self, classes):
        super().__init__()

        def block(i, o, pool=True):
            layers = [nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU()]
            return nn.Sequential(*(layers + [nn.MaxPool2d(2)] if pool else layers))
        self.body = nn.Sequential(block(3, 16), block(16, 32), block(32, 64), block(64, 64, pool=False),
                                  nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2))
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        return self.fc(self.body(x))


def to_nchw(x_nwhc):
    return x_nwhc.permute(0, 3, 2, 1)


class ExportFcn(nn.Module):
    """P-Net for export: [N, W, H, 3] in, boxes [N, W', H', 4] and softmax scores [N, W', H', 2] out."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        c, b = self.net(to_nchw(x))
        return b.permute(0, 3, 2, 1), F.softmax(c, dim=1).permute(0, 3, 2, 1)


class ExportRefine(nn.Module):
    """R-Net / O-Net for export: [N, S, S, 3] (width-major) in, boxes [N, 4] and scores [N, 2] out."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        c, b = self.net(to_nchw(x))
        return b, F.softmax(c, dim=1)


class ExportClassifier(nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return F.softmax(self.net(to_nchw(x)), dim=1)


class TrunkInput(nn.Module):
    """The trainer's and the manifest's input convention ((x - 127.5) * 0.0078125, RGB) to the pretrained trunk's
    (BGR, 0..255 minus its mean), as a fixed 1 x 1 convolution: exact (the trunk still pads with its own zeros) and
    one Conv in the exported graph, so the manifest's InputSpec stays the one every other network uses."""

    def __init__(self, mean_bgr, scale=0.0078125, mean=127.5):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)
        w = torch.zeros(3, 3, 1, 1)
        for c in range(3):
            w[c, 2 - c] = 1.0 / scale  # output BGR channel c is input RGB channel 2 - c
        self.conv.weight.data = w
        self.conv.bias.data = mean - mean_bgr.detach().clone()
        for p in self.conv.parameters():
            p.requires_grad_(False)

    def forward(self, x):
        return self.conv(x)


class Pretrained(nn.Module):
    """Common ground of the networks on the ResNet-18 trunk (eitrain.resnet18): the trunk's batch norm keeps its
    ImageNet statistics (batches of defect crops are too small and too alike to re-estimate them), its stem and
    first stage stay frozen (generic edges and textures, the part that pays on a thousand images), and the rest
    learns at a tenth of the head's rate."""

    def __init__(self, trunk):
        super().__init__()
        self.input = TrunkInput(trunk.mean_bgr)
        self.trunk = trunk
        for p in list(trunk.stem.parameters()) + (list(trunk.layers[0].parameters()) if len(trunk.layers) else []):
            p.requires_grad_(False)

    def train(self, mode=True):
        super().train(mode)
        for m in self.trunk.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eval()
        return self

    def features(self, x):
        return self.trunk(self.input(x))

    def param_groups(self, lr):
        trunk = [p for p in self.trunk.parameters() if p.requires_grad]
        head = [p for n, p in self.named_parameters() if p.requires_grad and not n.startswith(("trunk.", "input."))]
        return [{"params": head, "lr": lr}] + ([{"params": trunk, "lr": lr * 0.1}] if trunk else [])


class PretrainedONet(Pretrained):
    """O-Net on the trunk: crops of size x size (with context, input.cropMargin), the trunk's feature map squeezed to
    32 channels and kept spatial (box regression needs to know where the defect sits), then MTCNN's O-Net head."""

    def __init__(self, trunk, size):
        super().__init__(trunk)
        side = -(-size // trunk.stride)
        self.squeeze = nn.Sequential(nn.Conv2d(trunk.channels, 32, 1), nn.PReLU(32), nn.Flatten(),
                                     nn.Linear(32 * side * side, 256), nn.Dropout(0.25), nn.PReLU(256))
        self.cls = nn.Linear(256, 2)
        self.box = nn.Linear(256, 4)

    def forward(self, x):
        f = self.squeeze(self.features(x))
        return self.cls(f), self.box(f)


class PretrainedClassifier(Pretrained):
    """Region and whole-frame classifier on the trunk: average and max pooled features (a small defect on a large
    crop shows in the max, a texture in the average), dropout, one linear layer."""

    def __init__(self, trunk, classes):
        super().__init__(trunk)
        self.drop = nn.Dropout(0.2)
        self.fc = nn.Linear(2 * trunk.channels, classes)

    def forward(self, x):
        f = self.features(x)
        f = torch.cat([F.adaptive_avg_pool2d(f, 1), F.adaptive_max_pool2d(f, 1)], 1).flatten(1)
        return self.fc(self.drop(f))
