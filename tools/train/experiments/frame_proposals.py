#!/usr/bin/env python3
"""Experiment (not part of any package): would whole-frame proposals help O-Net on texture defects?

Runs a pretrained package's cascade on a split three ways and prints the class-agnostic AP at IoU 0.5 (VOC
all-point, every box down to score 0.05, as `edgeinspect eval`) and the highest recall reachable: as the device runs
it, with the whole frame added to R-Net's survivors as one more O-Net candidate, and with the frame's four halves
too. O-Net comes from the training cache (a pretrained O-Net cannot be read back from its ONNX file).

    /usr/bin/python3 tools/train/experiments/frame_proposals.py --package models/neu-steel \
      --onet-cache /tmp/neu-cache-v5/onet-resnet18-layer2-64-m0.25.pt \
      --dataset ../shared/datasets/neu-det --split ../shared/datasets/neu-det/val.txt
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from eitrain import cascade, data, nets, package_weights, resnet18  # noqa: E402


def average_precision(rows, n_truth):
    """VOC all-point AP and the last recall of (score, is_hit) rows."""
    rows = sorted(rows, key=lambda r: -r[0])
    tp = np.cumsum([r[1] for r in rows]); fp = np.cumsum([not r[1] for r in rows])
    rec = tp / n_truth; prec = tp / np.maximum(tp + fp, 1)
    mrec = np.concatenate([[0], rec, [1]]); mpre = np.concatenate([[0], prec, [0]])
    for i in range(len(mpre) - 2, -1, -1):
        mpre[i] = max(mpre[i], mpre[i + 1])
    idx = np.where(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[idx + 1] - mrec[idx]) * mpre[idx + 1])), float(rec[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--package", required=True); ap.add_argument("--onet-cache", required=True)
    ap.add_argument("--dataset", required=True); ap.add_argument("--split", required=True)
    ap.add_argument("--trunk", default="layer2")
    a = ap.parse_args()
    torch.set_num_threads(2)
    with open(os.path.join(a.package, "manifest.json")) as f:
        cfg = cascade.config_from_manifest(json.load(f)["detector"])
    pnet, rnet = nets.PNet(), nets.RNet()
    package_weights.load_onnx_weights(pnet, os.path.join(a.package, "pnet.onnx"))
    package_weights.load_onnx_weights(rnet, os.path.join(a.package, "rnet.onnx"))
    size, margin = cascade.onet_input(cfg)
    onet = nets.PretrainedONet(resnet18.convert(a.trunk, resnet18.model_path()), size)
    onet.load_state_dict(torch.load(a.onet_cache))
    pnet.eval(); rnet.eval(); onet.eval()
    iou_, mode = cascade.final_nms(cfg)
    rows = {"as the device runs it": [], "+ whole frame": [], "+ whole frame and halves": []}
    n_truth = 0
    with torch.no_grad():
        for path, gts, _ in data.read_dataset(a.dataset, a.split):
            img = data.load_rgb(path); h, w = img.shape[:2]
            n_truth += len(gts)
            survivors = cascade.detect([pnet, rnet], img, cfg, 2)
            frame = np.array([[0, 0, w, h, 1]], np.float32)
            halves = np.array([[0, 0, w / 2, h, 1], [w / 2, 0, w, h, 1], [0, 0, w, h / 2, 1], [0, h / 2, w, h, 1]], np.float32)
            for key, extra in zip(rows, (None, frame, np.vstack([frame, halves]))):
                b = survivors if extra is None else (np.vstack([survivors, extra]) if len(survivors) else extra)
                if len(b) == 0:
                    continue
                prob, reg = cascade.scores(onet, img, b, size, margin)
                f = cascade.finish(b, prob, reg, 0.05, iou_, mode, True, True, cfg)
                f[:, [0, 2]] = np.clip(f[:, [0, 2]], 0, w); f[:, [1, 3]] = np.clip(f[:, [1, 3]], 0, h)
                used = np.zeros(len(gts), bool)
                for box in f[np.argsort(-f[:, 4])]:
                    ious = data.iou(box[:4], gts); ious[used] = 0
                    hit = bool(len(ious) and ious.max() >= 0.5)
                    if hit:
                        used[ious.argmax()] = True
                    rows[key].append((box[4], hit))
    for key, r in rows.items():
        ap_, recall = average_precision(r, n_truth)
        print(f"{key}: class-agnostic AP {ap_:.3f}, highest recall {recall:.3f}")


if __name__ == "__main__":
    main()
