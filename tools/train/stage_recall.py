"""Where a detector loses the boxes: recall at IoU 0.5 and precision after P-Net, after R-Net and after
O-Net on a labelled split, using the stage weights a training run left in its --cache folder.

    /usr/bin/python3 tools/train/stage_recall.py --dataset ../shared/datasets/neu-det \
        --split ../shared/datasets/neu-det/val.txt --cache /tmp/neu-cache --min-size 16 \
        --thresholds 0.6 0.6 0.5

Recall after a stage bounds what any later stage can reach: R-Net and O-Net only keep, drop and nudge the
boxes P-Net proposes. Same cascade arithmetic as the C# runtime (eitrain.cascade); boxes are matched one
to one in score order, as `edgeinspect eval` does.
"""
import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from eitrain import cascade, data, nets  # noqa: E402


def load(cls, path):
    net = cls()
    net.load_state_dict(torch.load(path))
    net.eval()
    return net


def measure(stages, items, cfg, upto):
    tp = predicted = truth = 0
    for path, gts, _ in items:
        boxes = cascade.detect(stages, data.load_rgb(path), cfg, upto)
        truth += len(gts)
        predicted += len(boxes)
        used = set()
        for k in np.argsort(-boxes[:, 4]) if len(boxes) else []:
            ious = data.iou(boxes[k, :4], gts)
            j = int(np.argmax(ious))
            if ious[j] >= 0.5 and j not in used:
                used.add(j)
                tp += 1
    return predicted / max(len(items), 1), tp / max(truth, 1), tp / max(predicted, 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", required=True, help="Pascal VOC folder (images/, annotations/)")
    ap.add_argument("--split", required=True)
    ap.add_argument("--cache", required=True, help="folder with pnet.pt, rnet.pt, onet.pt from train.py --cache")
    ap.add_argument("--min-size", type=float, default=16)
    ap.add_argument("--thresholds", type=float, nargs=3, default=[0.6, 0.6, 0.5])
    a = ap.parse_args()
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    items = data.read_voc(a.dataset, a.split)
    stages = [load(nets.PNet, os.path.join(a.cache, "pnet.pt")),
              load(nets.RNet, os.path.join(a.cache, "rnet.pt")),
              load(nets.ONet, os.path.join(a.cache, "onet.pt"))]
    cfg = {"pyramid": {"minSize": a.min_size, "scaleFactor": 0.709, "maxScales": 0},
           "thresholds": list(a.thresholds), "crossNms": 0.7, "square": False}
    print(f"{len(items)} images, thresholds {a.thresholds}, min size {a.min_size}")
    for upto, name in [(1, "P-Net"), (2, "R-Net"), (3, "O-Net")]:
        per_image, recall, precision = measure(stages, items, cfg, upto)
        print(f"after {name}: {per_image:6.1f} boxes per image, recall {recall:.3f}, precision {precision:.3f}", flush=True)


if __name__ == "__main__":
    main()
