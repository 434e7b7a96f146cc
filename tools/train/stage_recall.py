"""Where a detector loses the boxes: recall at IoU 0.5 and precision after P-Net, after R-Net and after
O-Net on a labelled split, using the stage weights a training run left in its --cache folder, or those of a
package's ONNX files (--package).

    /usr/bin/python3 tools/train/stage_recall.py --dataset ../shared/datasets/neu-det \
        --split ../shared/datasets/neu-det/val.txt --cache /tmp/neu-cache --min-size 16 \
        --thresholds 0.6 0.6 0.5 [--aspects 0.25 0.5 1 2 4] [--onet-nms 0.7 min]
    /usr/bin/python3 tools/train/stage_recall.py --dataset ../shared/datasets/neu-det \
        --split ../shared/datasets/neu-det/val.txt --package models/neu-steel   (settings from its manifest)

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
from eitrain import cascade, data, nets, package_weights  # noqa: E402


def load(cls, path):
    net = cls()
    net.load_state_dict(torch.load(path))
    net.eval()
    return net


def matched(boxes, gts):
    """True positives: boxes taken in score order, each matched to the best still-unmatched ground truth box at
    IoU >= 0.5 (as `edgeinspect eval` does)."""
    used = np.zeros(len(gts), bool)
    tp = 0
    for k in np.argsort(-boxes[:, 4]) if len(boxes) else []:
        ious = data.iou(boxes[k, :4], gts)
        ious[used] = 0
        if len(ious) and ious.max() >= 0.5:
            used[ious.argmax()] = True
            tp += 1
    return tp


def measure(stages, items, cfg):
    """(boxes per image, recall, precision) after each stage; P-Net runs once per image."""
    tp, predicted, truth = np.zeros(3), np.zeros(3), 0
    for path, gts, _ in items:
        img = data.load_rgb(path)
        first = cascade.stage1(stages[0], img, cfg)
        truth += len(gts)
        for k in range(3):
            boxes = first if k == 0 else cascade.detect(stages, img, cfg, k + 1, first)
            predicted[k] += len(boxes)
            tp[k] += matched(boxes, gts)
    return [(predicted[k] / max(len(items), 1), tp[k] / max(truth, 1), tp[k] / max(predicted[k], 1)) for k in range(3)]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", required=True, help="Pascal VOC folder (images/, annotations/)")
    ap.add_argument("--split", required=True)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--cache", help="folder with pnet.pt, rnet.pt, onet.pt from train.py --cache")
    src.add_argument("--package", help="a package folder: its ONNX weights, and its manifest's pyramid, thresholds and "
                                       "last NMS (the other options are then ignored)")
    ap.add_argument("--min-size", type=float, default=16)
    ap.add_argument("--thresholds", type=float, nargs=3, default=[0.6, 0.6, 0.5])
    ap.add_argument("--aspects", type=float, nargs="+", default=[1.0], help="the package's detector.pyramid.aspects")
    ap.add_argument("--onet-nms", nargs=2, default=["0.7", "min"], metavar=("IOU", "MODE"),
                    help="the last stage's NMS (the package's stages[2].nms)")
    a = ap.parse_args()
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    # Box figures need every defect boxed: image-level labels and folder-per-class images are left out.
    items = [it for it in data.read_dataset(a.dataset, a.split) if it.has_boxes]
    if a.package:
        import json
        with open(os.path.join(a.package, "manifest.json")) as f:
            manifest = json.load(f)
        det = manifest["detector"]
        if (manifest.get("provenance") or {}).get("pretrained"):
            raise SystemExit(f"{a.package}: O-Net is on the pretrained trunk, whose batch norm the export folded into "
                             "the graph; stage_recall.py reads back MTCNN-sized stages only")
        stages = [package_weights.load_onnx_weights(cls(), os.path.join(a.package, s["file"]))
                  for cls, s in zip((nets.PNet, nets.RNet, nets.ONet), det["stages"])]
        cfg = cascade.config_from_manifest(det)
    else:
        stages = [load(nets.PNet, os.path.join(a.cache, "pnet.pt")),
                  load(nets.RNet, os.path.join(a.cache, "rnet.pt")),
                  load(nets.ONet, os.path.join(a.cache, "onet.pt"))]
        cfg = {"pyramid": {"minSize": a.min_size, "scaleFactor": 0.709, "maxScales": 0, "aspects": list(a.aspects)},
               "thresholds": list(a.thresholds), "crossNms": 0.7, "square": False,
               "onetNms": (float(a.onet_nms[0]), a.onet_nms[1].lower())}
    pyr = cfg["pyramid"]
    print(f"{len(items)} images, thresholds {cfg['thresholds']}, min size {pyr['minSize']}, aspects {pyr['aspects']}, "
          f"O-Net NMS {cfg['onetNms'][1]} {cfg['onetNms'][0]}")
    for name, (per_image, recall, precision) in zip(["P-Net", "R-Net", "O-Net"], measure(stages, items, cfg)):
        print(f"after {name}: {per_image:6.1f} boxes per image, recall {recall:.3f}, precision {precision:.3f}", flush=True)


if __name__ == "__main__":
    main()
