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
