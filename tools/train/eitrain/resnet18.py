"""The ImageNet-trained ResNet-18 (He et al. 2016, "Deep Residual Learning for Image Recognition") of the NuGet
package Microsoft.ML.DnnImageFeaturizer.ResNet18 0.23.1 (MIT), brought into PyTorch from the ONNX file's
initializers, so the trainer can build on its early layers.

The package is restored by `dotnet restore tools/train/resnet18` (CI restores it with the solution) into the NuGet
package folder; nothing of it is committed and nothing is downloaded here. The ONNX graph was exported from CNTK:
opset 8, input [1, 3, 224, 224] in BGR order minus a mean image (ResNetPreprocess.onnx beside it), output the
[1, 512, 1, 1] average pool. CNTK pads "same" convolutions of stride 2 asymmetrically (pads [3, 3, 2, 2] on the
7 x 7 stem, [1, 1, 0, 0] on the 3 x 3 ones and the max pool: more at the top / left), which torch's symmetric
padding cannot say, so the trunk pads explicitly."""
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

PACKAGE = "microsoft.ml.dnnimagefeaturizer.resnet18"
VERSION = "0.23.1"
MODEL = os.path.join("tools", "DnnImageModels", "ResNet18Onnx", "ResNet18.onnx")
PREPROCESS = os.path.join("tools", "DnnImageModels", "ResNetPrepOnnx", "ResNetPreprocess.onnx")
RESTORE = "dotnet restore tools/train/resnet18"
# The trunk's stages, in order; "layer2" (stride 8, 128 channels) is what the trainer builds on by default.
DEPTHS = ("stem", "layer1", "layer2", "layer3", "layer4")


def package_dir():
    """The restored package's folder (NUGET_PACKAGES, else ~/.nuget/packages, as dotnet restore puts it)."""
    root = os.environ.get("NUGET_PACKAGES") or os.path.join(os.path.expanduser("~"), ".nuget", "packages")
    return os.path.join(root, PACKAGE, VERSION)


def model_path():
    """ResNet18.onnx of the restored package; raises FileNotFoundError saying how to restore it."""
    path = os.path.join(package_dir(), MODEL)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} is missing: the pretrained trunk comes from the NuGet package "
                                f"Microsoft.ML.DnnImageFeaturizer.ResNet18 {VERSION}; run `{RESTORE}` first")
    return path


class Pad(nn.Module):
    """Zero padding (left, right, top, bottom), as the CNTK graph's asymmetric pads."""

    def __init__(self, left, right, top, bottom):
        super().__init__()
        self.pads = (left, right, top, bottom)

    def forward(self, x):
        return F.pad(x, self.pads) if any(self.pads) else x


class ConvBn(nn.Module):
    """Convolution without bias, then batch norm (every convolution of the graph is one)."""

    def __init__(self, cin, cout, k, stride, pads):
        super().__init__()
        self.pad = Pad(*pads)
        self.conv = nn.Conv2d(cin, cout, k, stride, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=1e-5)

    def forward(self, x):
        return self.bn(self.conv(self.pad(x)))


class Block(nn.Module):
    """ResNet's basic block: two 3 x 3 convolutions and the shortcut (a strided 1 x 1 where the shape changes)."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        down = stride != 1 or cin != cout
        self.c1 = ConvBn(cin, cout, 3, stride, (1, 0, 1, 0) if stride == 2 else (1, 1, 1, 1))
        self.c2 = ConvBn(cout, cout, 3, 1, (1, 1, 1, 1))
        self.down = ConvBn(cin, cout, 1, stride, (0, 0, 0, 0)) if down else None

    def forward(self, x):
        y = self.c2(F.relu(self.c1(x)))
        return F.relu(y + (self.down(x) if self.down is not None else x))


class ResNet18Trunk(nn.Module):
    """ResNet-18 up to `depth` (one of DEPTHS). Input: NCHW, BGR, 0..255 minus the per-channel mean (`mean_bgr`)."""

    def __init__(self, depth="layer4"):
        super().__init__()
        if depth not in DEPTHS:
            raise ValueError(f"depth {depth!r}: one of {DEPTHS}")
        self.depth = depth
        self.stem = ConvBn(3, 64, 7, 2, (3, 2, 3, 2))
        self.pool_pad = Pad(1, 0, 1, 0)
        # This graph's last stage has three blocks where torchvision's ResNet-18 has two (22 convolutions, not 20).
        widths = [(64, 64, 1, 2), (64, 128, 2, 2), (128, 256, 2, 2), (256, 512, 2, 3)]
        self.layers = nn.ModuleList()
        for i, (cin, cout, stride, blocks) in enumerate(widths):
            if DEPTHS.index(depth) < i + 1:
                break
            self.layers.append(nn.Sequential(Block(cin, cout, stride), *[Block(cout, cout, 1) for _ in range(blocks - 1)]))
        self.register_buffer("mean_bgr", torch.zeros(3))

    @property
    def channels(self):
        return 64 if not len(self.layers) else self.layers[-1][-1].c2.conv.out_channels

    @property
    def stride(self):
        return 4 * 2 ** max(len(self.layers) - 1, 0)

    def forward(self, x):
        x = F.max_pool2d(self.pool_pad(F.relu(self.stem(x))), 3, 2)
        for layer in self.layers:
            x = layer(x)
        return x

    def convs(self):
        """The ConvBn modules in the order the ONNX graph computes them (a block's shortcut before its c1)."""
        out = [self.stem]
        for layer in self.layers:
            for block in layer:
                out += ([block.down] if block.down is not None else []) + [block.c1, block.c2]
        return out


def read_onnx(path):
    """(graph nodes, initializers as numpy arrays) of an ONNX file."""
    import onnx
    from onnx import numpy_helper
    model = onnx.load(path)
    return model.graph.node, {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}


def _attrs(node):
    import onnx
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def convert(depth="layer2", path=None, log=None):
    """A ResNet18Trunk up to depth with the package's weights, batch norm in eval mode (frozen statistics: the small
    batches of defect crops cannot estimate ImageNet-scale statistics). Every convolution's shape, stride and pads
    are checked against the graph; a graph that does not fit raises ValueError naming the node."""
    path = path or model_path()
    nodes, init = read_onnx(path)
    trunk = ResNet18Trunk("layer4")
    pairs = []
    for i, n in enumerate(nodes):
        if n.op_type != "Conv":
            continue
        bn = nodes[i + 1]
        if bn.op_type != "BatchNormalization" or bn.input[0] != n.output[0]:
            raise ValueError(f"{path}: {n.name or n.output[0]} is not followed by its batch norm")
        pairs.append((n, bn))
    convs = trunk.convs()
    if len(pairs) != len(convs):
        raise ValueError(f"{path}: {len(pairs)} convolutions, the trunk has {len(convs)}")
    for (n, bn), m in zip(pairs, convs):
        a = _attrs(n)
        w = init[n.input[1]]
        if tuple(w.shape) != tuple(m.conv.weight.shape):
            raise ValueError(f"{path}: {n.output[0]} weight {w.shape}, expected {tuple(m.conv.weight.shape)}")
        if len(n.input) > 2:
            raise ValueError(f"{path}: {n.output[0]} has a bias; ResNet-18's convolutions have none")
        pads = list(a.get("pads", [0, 0, 0, 0]))  # ONNX: [top, left, bottom, right]
        mine = [m.pad.pads[2], m.pad.pads[0], m.pad.pads[3], m.pad.pads[1]]
        if list(a.get("strides", [1, 1])) != list(m.conv.stride) or pads != mine:
            raise ValueError(f"{path}: {n.output[0]} strides {a.get('strides')} pads {pads}, the trunk has "
                             f"{list(m.conv.stride)} {mine}")
        scale, bias, mean, var = (init[k] for k in bn.input[1:5])
        eps = _attrs(bn).get("epsilon", 1e-5)
        m.conv.weight.data = torch.from_numpy(np.array(w, np.float32))
        m.bn.weight.data = torch.from_numpy(np.array(scale, np.float32))
        m.bn.bias.data = torch.from_numpy(np.array(bias, np.float32))
        m.bn.running_mean.data = torch.from_numpy(np.array(mean, np.float32))
        m.bn.running_var.data = torch.from_numpy(np.array(var, np.float32))
        m.bn.eps = float(eps)
    prep = os.path.join(os.path.dirname(os.path.dirname(path)), "ResNetPrepOnnx", "ResNetPreprocess.onnx")
    if os.path.exists(prep):
        _, pinit = read_onnx(prep)
        mean_image = next(iter(pinit.values()))  # [1, 3, 224, 224], BGR
        trunk.mean_bgr.data = torch.from_numpy(mean_image.reshape(3, -1).mean(1).astype(np.float32))
    else:
        raise ValueError(f"{prep} is missing (the mean image the trunk was trained with)")
    if log:
        log(f"ResNet-18 trunk: {len(pairs)} convolutions from {path}, mean BGR {[round(float(v), 2) for v in trunk.mean_bgr]}")
    if depth != "layer4":
        short = ResNet18Trunk(depth)
        short.load_state_dict({k: v for k, v in trunk.state_dict().items() if k in short.state_dict()})
        trunk = short
    return trunk.eval()


@torch.no_grad()
def features(trunk, x):
    """The graph's output for the graph's own input (NCHW BGR minus the mean image): the trunk, then the 7 x 7 average
    pool. What the converter check compares against another runtime."""
    f = trunk.eval()(torch.from_numpy(np.ascontiguousarray(x, np.float32)))
    return F.adaptive_avg_pool2d(f, 1).numpy()


def main():
    import argparse
    ap = argparse.ArgumentParser(description="Converts the package's ResNet18.onnx into a PyTorch trunk and runs "
                                 "it on probe tensors, for a check against another runtime (the C# test runs ONNX "
                                 "Runtime on the same probes)")
    ap.add_argument("--probes", required=True, help="float32 file of N x 3 x 224 x 224 tensors (the graph's input)")
    ap.add_argument("--out", required=True, help="float32 file to write: N x 512 features")
    ap.add_argument("--model", default=None, help="ResNet18.onnx (default: the restored NuGet package's)")
    a = ap.parse_args()
    torch.set_num_threads(2)
    x = np.fromfile(a.probes, np.float32).reshape(-1, 3, 224, 224)
    trunk = convert("layer4", a.model, log=print)
    features(trunk, x).astype(np.float32).reshape(len(x), -1).tofile(a.out)
    print(f"{len(x)} probes -> {a.out}", flush=True)


if __name__ == "__main__":
    main()
