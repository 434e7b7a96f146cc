#!/usr/bin/python3
"""Trains an EdgeInspect defect model package: P-Net / R-Net / O-Net detector (Zhang et al. 2016,
MTCNN) plus a region classifier, exports ONNX and writes manifest.json with hashes, provenance and
validation metrics. One command per model: see tools/train/README.md.

Run with Debian's /usr/bin/python3 (python3-torch, python3-onnx, python3-opencv, python3-numpy)."""
import argparse
import copy
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from eitrain import card, cascade, data, nets, package_weights, resnet18  # noqa: E402

OPSET = 13  # ONNX Runtime 1.x reads it; dynamic batch axis and, for P-Net, dynamic W/H.


def seed_all(seed):
    random.seed(seed); np.random.seed(seed); torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


def batches(n, bs, rng):
    idx = rng.permutation(n)
    for i in range(0, n, bs):
        yield idx[i:i + bs]


def trainable(net, lr):
    """What the optimiser moves: a network on the pretrained trunk gives its own groups (frozen early layers left
    out, the trunk at a lower rate); the others, every parameter."""
    return net.param_groups(lr) if hasattr(net, "param_groups") else net.parameters()


class Progress:
    """One line per step of a long loop (at most every 30 s, and at the end), so a run on two cores never sits
    silent for minutes: what is being done, how far, how long so far."""

    def __init__(self, log, what, total):
        self.log, self.what, self.total, self.t0, self.last = log, what, total, time.time(), time.time()

    def step(self, done):
        now = time.time()
        if done == self.total or now - self.last >= 30:
            self.last = now
            self.log(f"{self.what}: {done}/{self.total} ({now - self.t0:.0f} s)")


def det_loss(cls, box, y, r, ohem):
    """MTCNN multi-task loss: cross-entropy on positives and negatives with online hard example
    mining (only the hardest 70 % of the batch's classification losses count, paper section 2.3),
    plus 0.5 x squared error of the box offsets on positives and part crops."""
    m = y >= 0
    ce = F.cross_entropy(cls[m], y[m], reduction="none") if m.any() else cls.sum() * 0
    if ohem and ce.numel() > 0:
        ce = torch.topk(ce, max(1, int(ce.numel() * 0.7)))[0]
    lc = ce.mean() if ce.numel() else ce.sum()
    mb = y != 0
    lb = F.mse_loss(box[mb], r[mb]) if mb.any() else box.sum() * 0
    return lc + 0.5 * lb, lc, lb


def train_detector(name, net, train, val, epochs, lr, device, rng, log):
    X, y, r = train
    Xv, yv, rv = val
    net.to(device)
    opt = torch.optim.Adam(trainable(net, lr), lr=lr, weight_decay=1e-5)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(epochs, 1))
    best, best_state = float("inf"), None
    # Channels-last convolutions: about 20 % faster on two CPU cores (measured on O-Net, batch 256), same results
    # up to float rounding.
    net = net.to(memory_format=torch.channels_last)
    for ep in range(epochs):
        net.train()
        prog, done = Progress(log, f"{name} epoch {ep + 1}/{epochs} crops", len(X)), 0
        for b in batches(len(X), 256, rng):
            done += len(b); prog.step(done)
            xb = cascade.normalise(X[b]).to(device).contiguous(memory_format=torch.channels_last)
            c, o = net(xb)
            c, o = c.reshape(len(b), 2), o.reshape(len(b), 4)
            loss, _, _ = det_loss(c, o, torch.from_numpy(y[b]).to(device), torch.from_numpy(r[b]).to(device), True)
            opt.zero_grad(); loss.backward(); opt.step()
        sched.step()
        net.eval()
        with torch.no_grad():
            tot, acc, n = 0.0, 0, 0
            for i in range(0, len(Xv), 1024):
                c, o = net(cascade.normalise(Xv[i:i + 1024]).to(device))
                c, o = c.reshape(-1, 2), o.reshape(-1, 4)
                yb = torch.from_numpy(yv[i:i + 1024]).to(device)
                l, _, _ = det_loss(c, o, yb, torch.from_numpy(rv[i:i + 1024]).to(device), False)
                tot += l.item() * len(yb); n += len(yb)
                m = yb >= 0
                acc += (c[m].argmax(1) == yb[m]).sum().item()
            vl = tot / max(n, 1); va = acc / max((yv >= 0).sum(), 1)
        log(f"{name} epoch {ep + 1}/{epochs}: val loss {vl:.4f}, val cls acc {va:.4f}")
        if vl < best:
            best, best_state = vl, {k: v.detach().clone() for k, v in net.state_dict().items()}
    net.load_state_dict(best_state)
    return net.cpu().eval(), best


def train_classifier(net, train, val, epochs, lr, device, rng, log):
    X, y = train
    Xv, yv = val
    net.to(device)
    opt = torch.optim.Adam(trainable(net, lr), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(epochs, 1))
    best, best_state = -1.0, None
    for ep in range(epochs):
        net.train()
        prog, done = Progress(log, f"classifier epoch {ep + 1}/{epochs} crops", len(X)), 0
        for b in batches(len(X), 128, rng):
            done += len(b); prog.step(done)
            loss = F.cross_entropy(net(cascade.normalise(X[b]).to(device)), torch.from_numpy(y[b]).to(device))
            opt.zero_grad(); loss.backward(); opt.step()
        sched.step()
        net.eval()
        with torch.no_grad():
            pred = torch.cat([net(cascade.normalise(Xv[i:i + 512]).to(device)).argmax(1).cpu()
                              for i in range(0, len(Xv), 512)]).numpy()
        acc = float((pred == yv).mean()) if len(yv) else 0.0
        log(f"classifier epoch {ep + 1}/{epochs}: val crop acc {acc:.4f}")
        if acc > best:
            best, best_state = acc, {k: v.detach().clone() for k, v in net.state_dict().items()}
    net.load_state_dict(best_state)
    return net.cpu().eval(), best


def detections(nets_, items, cfg, upto, cap, rng, first=None, log=None):
    """Earlier stages' detections per image, at most cap of them (a random subset, so R-Net / O-Net
    see hard negatives from every image without the easy bulk dominating the crop set). first: P-Net's
    boxes per image, already computed (P-Net over the pyramid is the slow part of mining)."""
    out = []
    prog = Progress(log, f"mining stage {upto} detections", len(items)) if log else None
    for i, (p, _, _) in enumerate(items):
        if prog:
            prog.step(i + 1)
        d = cascade.detect(nets_, data.load_rgb(p), cfg, upto, None if first is None else first[i])
        if len(d) > cap:
            d = d[np.sort(rng.choice(len(d), cap, replace=False))]
        out.append(d)
    return out


def frame_window_samples(items, dets, cfg, negatives, bands, rng):
    """Each image's mined candidates with the frame windows O-Net will also score on the device: every window that
    overlaps a defect enough to be a positive or part sample, and at most `negatives` of those that miss (a 50-window
    grid would otherwise add mostly negatives and double O-Net's epoch time)."""
    out = []
    for (path, gts, _), d in zip(items, dets):
        h, w = data.load_rgb(path).shape[:2]
        fw = cascade.frame_windows(cfg, w, h)
        labels = [data.label_window(win[:4], gts, False, bands=tuple(bands))[0] for win in fw]
        hits = [k for k, lab in enumerate(labels) if lab in (data.POS, data.PART)]
        misses = [k for k, lab in enumerate(labels) if lab == data.NEG]
        if len(misses) > negatives:
            misses = sorted(rng.choice(misses, negatives, replace=False).tolist())
        extra = fw[sorted(hits + misses)]
        out.append(np.vstack([d[:, :5], extra]).astype(np.float32) if len(d) else extra)
    return out


def cached(cache, name, net, train_fn, log, start_from=None, epochs=None):
    """Trains a stage, or loads it from the cache folder when an earlier run already trained it. start_from: a
    package folder whose <name>.onnx gives the starting weights: taken as they are with epochs 0, fine-tuned
    otherwise."""
    path = os.path.join(cache, name + ".pt") if cache else None
    if path and os.path.exists(path):
        net.load_state_dict(torch.load(path))
        log(f"{name}: loaded from {path}")
        return net.eval(), None
    if start_from:
        onnx_file = os.path.join(start_from, name.split("-")[0] + ".onnx")  # "onet-48-m0.1" was exported as onet.onnx
        package_weights.load_onnx_weights(net, onnx_file)
        log(f"{name}: starting weights from {onnx_file}")
        if epochs == 0:
            return net.eval(), None
        net.train()
    net, score = train_fn(net)
    if path:
        os.makedirs(cache, exist_ok=True)
        torch.save(net.state_dict(), path)
    return net, score


# The classifier's input side and crop margin (input.cropMargin), set once by main() from --crop-size / --crop-margin.
CLASSIFIER_INPUT = {"size": 48, "margin": 0.0}


@torch.no_grad()
def classify(clf, img, boxes, margin=None):
    if len(boxes) == 0:
        return np.zeros((0, 0), np.float32)
    m = CLASSIFIER_INPUT["margin"] if margin is None else margin
    crops = np.stack([data.region_crop(img, b[:4], CLASSIFIER_INPUT["size"], m) for b in boxes])
    return F.softmax(clf(cascade.normalise(crops)), 1).numpy()


def classify_whole(clf, img):
    """The whole frame's class probabilities (classifier.wholeImage), cropped and resized as the device does (the
    whole frame, no margin)."""
    return classify(clf, img, np.array([[0, 0, img.shape[1], img.shape[0]]], np.float64), margin=0.0)[0]


def part_decision(probs, scores, classes, whole_probs=None, whole_weight=0.0):
    """The part's class as the device's DecisionPolicy gives it: NG when a counted region's (or the whole frame's)
    arg-max class is not "ok"; then the NG class with the most evidence (score x probability, the whole frame's
    weighed by whole_weight), else "ok"."""
    ev = (probs * scores[:, None]).sum(0) if len(scores) else np.zeros(len(classes))
    argmaxes = [int(i) for i in probs.argmax(1)] if len(scores) else []
    if whole_probs is not None:
        ev = ev + whole_weight * whole_probs
        argmaxes.append(int(whole_probs.argmax()))
    ng = [i for i, c in enumerate(classes) if c != data.OK]
    if not any(classes[i] != data.OK for i in argmaxes):
        return data.OK
    return classes[max(ng, key=lambda i: ev[i])]


WHOLE_WEIGHTS = [0.5, 1.0, 2.0, 4.0, 8.0]
# Final (O-Net) thresholds model selection tries.
THRESHOLDS = [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95]
# The decision's region thresholds (decision.minRegionScore) model selection tries at each O-Net threshold t: t itself
# and every value above it. The boxes a station reports are those above t; the regions whose classes name the part
# may be fewer, only the surer ones.
REGION_THRESHOLDS = THRESHOLDS + [0.97]


def clip(b, w, h):
    b = b.copy()
    b[:, [0, 2]] = np.clip(b[:, [0, 2]], 0, w); b[:, [1, 3]] = np.clip(b[:, [1, 3]], 0, h)
    return b


# The last stage's NMS settings model selection tries: the reference MTCNN's (0.7, "min") keeps one of two boxes only
# when one nearly contains the other, so shifted duplicates of one defect survive; a "union" IoU keeps them apart.
FINAL_NMS = [(0.7, "min"), (0.5, "min"), (0.7, "union"), (0.5, "union"), (0.3, "union")]


def evaluate(nets_, clf, items, classes, cfg, thresholds, whole=False, nms_grid=None, log=None):
    """Detection precision / recall at IoU 0.5 (greedy matching by score) and image-level class accuracy
    (class with the highest summed score x probability) for each final NMS setting of nms_grid (default: the
    cfg's) and each final threshold, in one pass. The part's class counts the regions from each region threshold
    of REGION_THRESHOLDS at or above the row's threshold (the device's decision.minRegionScore), and with
    whole=True the whole frame's class probabilities join the sum, weighed by each of WHOLE_WEIGHTS (the device's
    DecisionPolicy does the same sum); the table keeps, per row, the region threshold and weight with the best image
    accuracy (ties: the row's own threshold, then the lower weight, then the lower region threshold). Keys are (NMS IoU, NMS mode, threshold): greedy NMS never lets a
    box be suppressed by a lower-scored one, so one NMS over the boxes above the lowest threshold, then the
    threshold, gives exactly what the device gives at each threshold."""
    weights = WHOLE_WEIGHTS if whole else [0.0]
    nms_grid = nms_grid or [cascade.final_nms(cfg)]
    # Per (weight, region threshold): [right class, NG parts passed as OK (escapes), OK parts rejected (false rejects)].
    regions_at = {t: [t] + [r for r in REGION_THRESHOLDS if r > t] for t in thresholds}
    rows = {(n[0], n[1], t): [0, 0, 0, {(w, r): [0, 0, 0] for w in weights for r in regions_at[t]}]
            for n in nms_grid for t in thresholds}
    ng_parts = sum(it.label != data.OK for it in items)
    ok_parts = len(items) - ng_parts
    tmin = min(thresholds)
    osize, omargin = cascade.onet_input(cfg)
    prog = Progress(log, "model selection on val images", len(items)) if log else None
    for n_item, item in enumerate(items):
        if prog:
            prog.step(n_item + 1)
        path, gts, names = item
        img = data.load_rgb(path)
        b2 = cascade.last_stage_candidates(cascade.detect(nets_, img, cfg, 2), img, cfg)
        prob, reg = cascade.scores(nets_[2], img, b2, osize, omargin) if len(b2) else (None, None)
        wp = classify_whole(clf, img) if whole else None
        truth = item.label
        for iou_, mode in nms_grid:
            b = cascade.finish(b2, prob, reg, tmin, iou_, mode, True, True, cfg) if len(b2) else b2
            b = clip(b, img.shape[1], img.shape[0]) if len(b) else b
            probs_all = classify(clf, img, b) if len(b) else None
            for t in thresholds:
                keep = b[:, 4] > t if len(b) else np.zeros(0, bool)
                bt = b[keep]
                order = np.argsort(-bt[:, 4]) if len(bt) else []
                used = np.zeros(len(gts), bool)
                tp = 0
                for bb in bt[order] if len(bt) else []:
                    ious = data.iou(bb[:4], gts)
                    ious[used] = 0
                    if len(ious) and ious.max() >= 0.5:
                        used[ious.argmax()] = True; tp += 1
                r = rows[(iou_, mode, t)]
                if item.has_boxes:  # an image-level label has no boxes to match: its defect would count as false boxes
                    r[0] += tp; r[1] += len(bt) - tp; r[2] += len(gts)
                for rt in regions_at[t]:
                    # The row's own threshold: the boxes above it; a higher region threshold: the device's score >= r.
                    counted = keep if rt == t else (b[:, 4] >= rt if len(b) else np.zeros(0, bool))
                    probs_kept = probs_all[counted] if counted.any() else np.zeros((0, len(classes)))
                    scores_kept = b[counted, 4] if counted.any() else np.zeros(0)
                    for w in weights:
                        pred = part_decision(probs_kept, scores_kept, classes, wp, w)
                        counts = r[3][(w, rt)]
                        counts[0] += pred == truth
                        counts[1] += truth != data.OK and pred == data.OK
                        counts[2] += truth == data.OK and pred != data.OK
    table = {}
    for (iou_, mode, t), (tp, fp, g, ok) in rows.items():
        w, rt = max(ok, key=lambda k: (ok[k][0], k[1] == t, -k[0], -k[1]))
        table[(iou_, mode, round(float(t), 3))] = {
            "precision": tp / max(tp + fp, 1), "recall": tp / max(g, 1),
            "imageClassAccuracy": ok[(w, rt)][0] / max(len(items), 1), "wholeImageWeight": w if whole else None,
            "regionThreshold": rt,
            "escapes": ok[(w, rt)][1], "ngParts": ng_parts, "falseRejects": ok[(w, rt)][2], "okParts": ok_parts}
    return table


def log_table(table, log):
    """The selection table, a line per (O-Net NMS, threshold) row, as train.log keeps it."""
    for (iou_, mode, t), v in table.items():
        log(f"val O-Net NMS {mode} {iou_} threshold {t}: precision {v['precision']:.3f} recall {v['recall']:.3f} "
            f"image class accuracy {v['imageClassAccuracy']:.3f} (regions from {v['regionThreshold']}) "
            f"escapes {v['escapes']}/{v['ngParts']} false rejects {v['falseRejects']}/{v['okParts']}")


def export(model, path, size, fcn):
    dummy = torch.zeros(1, size, size, 3)
    axes = {"input": {0: "n", 1: "w", 2: "h"} if fcn else {0: "n"}}
    outs = ["boxes", "scores"] if not isinstance(model, nets.ExportClassifier) else ["probs"]
    for o in outs:
        axes[o] = {0: "n", 1: "wo", 2: "ho"} if fcn else {0: "n"}
    torch.onnx.export(model, dummy, path, input_names=["input"], output_names=outs,
                      dynamic_axes=axes, opset_version=OPSET, do_constant_folding=True)
    import onnx
    onnx.checker.check_model(onnx.load(path))


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


def input_spec(size, margin=0.0):
    spec = {"name": "input", "width": size, "height": size, "layout": "NWHC", "channels": "RGB",
            "mean": [127.5, 127.5, 127.5], "scale": 0.0078125}
    return {**spec, "cropMargin": margin} if margin else spec


def git_commit():
    """(HEAD, whether tools/train differs from it), read when the run starts: the trainer code that runs is HEAD's
    only when nothing under tools/train is modified or new."""
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=here).stdout.strip() or None
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "."], capture_output=True, text=True, cwd=here).stdout.strip()
        return head, bool(dirty)
    except OSError:
        return None, None


def make_smoke_dataset(root, rng, good_parts=False):
    """A handful of synthetic images with dark rectangles ("defects") for the toolchain smoke test. good_parts (the
    --pretrained and --whole-image smoke runs): also good parts (annotations without objects) and one defective
    image labelled without a box, so the "ok" class and the image-level label run too. The plain smoke package keeps
    its two classes (other tests count on its classifier's output shape)."""
    import cv2
    os.makedirs(os.path.join(root, "images")); os.makedirs(os.path.join(root, "annotations"))
    names = []
    for i in range(8):
        img = np.full((96, 96, 3), 170, np.uint8) + rng.integers(0, 20, (96, 96, 1), dtype=np.uint8)
        cls = ["dent", "scratch"][i % 2]
        x, y = int(rng.integers(5, 40)), int(rng.integers(5, 40))
        w, h = (30, 30) if cls == "dent" else (45, 10)
        cv2.rectangle(img, (x, y), (x + w, y + h), (40, 40, 40), -1)
        name = f"smoke_{i}"
        cv2.imwrite(os.path.join(root, "images", name + ".jpg"), img)
        with open(os.path.join(root, "annotations", name + ".xml"), "w") as f:
            f.write(f"<annotation><filename>{name}.jpg</filename><object><name>{cls}</name><bndbox>"
                    f"<xmin>{x}</xmin><ymin>{y}</ymin><xmax>{x + w}</xmax><ymax>{y + h}</ymax>"
                    f"</bndbox></object></annotation>")
        names.append(name + ".jpg")
    for i in range(4 if good_parts else 0):
        img = np.full((96, 96, 3), 170, np.uint8) + rng.integers(0, 20, (96, 96, 1), dtype=np.uint8)
        name = f"smoke_ok_{i}" if i < 3 else "smoke_label_only"
        if i == 3:
            cv2.rectangle(img, (20, 30), (70, 40), (40, 40, 40), -1)
        cv2.imwrite(os.path.join(root, "images", name + ".jpg"), img)
        with open(os.path.join(root, "annotations", name + ".xml"), "w") as f:
            f.write(f"<annotation><filename>{name}.jpg</filename>" +
                    ("<object><name>scratch</name></object>" if i == 3 else "") + "</annotation>")
    n_train = 6
    if good_parts:
        names[6:6] = ["smoke_ok_0.jpg", "smoke_ok_1.jpg", "smoke_label_only.jpg"]
        names.append("smoke_ok_2.jpg")
        n_train = 9
    for split, sel in (("train.txt", names[:n_train]), ("val.txt", names[n_train:])):
        with open(os.path.join(root, split), "w") as f:
            f.write("\n".join(sel) + "\n")


def synthetic_probe(rng, size=200):
    """A grey textured surface with a few dark or bright marks: a deterministic probe image for golden
    checks. It is not meant to look like any dataset; the golden check only asks the device to reproduce
    what the exported networks do on a fixed input."""
    import cv2
    base = int(rng.integers(90, 180))
    img = np.clip(base + rng.normal(0, 12, (size, size, 1)), 0, 255).astype(np.uint8)
    img = cv2.GaussianBlur(np.repeat(img, 3, 2), (3, 3), 0)
    for _ in range(int(rng.integers(0, 4))):
        tone = int(np.clip(base + rng.choice([-1, 1]) * rng.integers(40, 90), 0, 255))
        kind = rng.integers(0, 3)
        x, y = (int(v) for v in rng.integers(10, size - 60, 2))
        if kind == 0:  # long thin line
            cv2.line(img, (x, y), (x + int(rng.integers(30, 120)), y + int(rng.integers(-20, 60))), (tone,) * 3,
                     int(rng.integers(1, 5)))
        elif kind == 1:  # blob
            cv2.ellipse(img, (x + 20, y + 20), (int(rng.integers(5, 25)), int(rng.integers(5, 25))),
                        float(rng.integers(0, 180)), 0, 360, (tone,) * 3, -1)
        else:  # speckle field
            for _ in range(int(rng.integers(10, 40))):
                cx, cy = x + int(rng.integers(0, 50)), y + int(rng.integers(0, 50))
                cv2.circle(img, (cx, cy), int(rng.integers(1, 3)), (tone,) * 3, -1)
    return img


def make_golden(a, dets, clf, classes, cfg, region_t, val_items, whole_w=None, log=print):
    """Golden images with their expected results, chosen to be unambiguous: an NG image's regions all score
    well above the decision's region threshold (region_t, at or above the final one, so every region counts) with a confident class, and an OK image has no region even with every
    threshold lowered by 0.1, so float differences between runtimes cannot flip the expectation."""
    import cv2
    gdir = os.path.join(a.out, "golden")
    if os.path.isdir(gdir):
        shutil.rmtree(gdir)
    os.makedirs(gdir)
    rng = np.random.default_rng([a.seed, 99])
    probes = a.golden_probes
    if a.golden_from == "val":
        candidates = ((os.path.basename(it[0]), data.load_rgb(it[0]), it.label) for it in val_items)
    else:
        candidates = ((f"probe_{i:03d}.png", synthetic_probe(rng), None) for i in range(probes))
    lowered = dict(cfg, thresholds=[max(0.05, t - 0.1) for t in cfg["thresholds"]])
    ng, ok = [], []
    # A whole-frame classifier without an "ok" class gives every frame a defect class: no image can be expected OK.
    ok_possible = whole_w is None or data.OK in classes
    tried = Progress(log, "golden images: candidates tried", len(val_items) if a.golden_from == "val" else probes)
    for n_tried, (name, img, truth) in enumerate(candidates):
        tried.step(n_tried + 1)
        if len(ng) >= a.golden and (ok or not ok_possible):
            break
        b = cascade.detect(dets, img, cfg, 3)
        wp = classify_whole(clf, img) if whole_w is not None else None
        entry = None
        if len(b) and len(ng) < a.golden:
            probs = classify(clf, img, b)
            pred = part_decision(probs, b[:, 4], classes, wp, whole_w or 0.0)
            if wp is not None:
                probs = np.vstack([probs, wp[None]])
            margin = min(region_t + 0.05, (1 + region_t) / 2)  # a 0.95 threshold still leaves room above it
            # Every region (and the frame) of one confident class that is not "ok": no float difference can flip it.
            confident = probs.max(1).min() >= 0.8 and all(classes[int(i)] != data.OK for i in probs.argmax(1))
            if pred != data.OK and (truth is None or pred == truth) and b[:, 4].min() >= margin and confident:
                entry = {"expectVerdict": "ng", "expectClass": pred}
                ng.append(entry)
        elif (ok_possible and not len(b) and not ok and not len(cascade.detect(dets, img, lowered, 3))
              and (wp is None or (classes[int(wp.argmax())] == data.OK and wp.max() >= 0.8))
              and (truth is None or truth == data.OK)):
            entry = {"expectVerdict": "ok", "expectRegions": 0}  # the whole frame is not counted as a region
            ok.append(entry)
        if entry is None:
            continue
        dst = os.path.join(gdir, os.path.splitext(name)[0] + ".png")
        cv2.imwrite(dst, cv2.cvtColor(img, cv2.COLOR_RGB2BGR))  # PNG: lossless, so the device sees these pixels
        entry.update({"file": "golden/" + os.path.basename(dst), "sha256": sha256(dst)})
    return [dict(file=e["file"], sha256=e["sha256"], **{k: v for k, v in e.items() if k not in ("file", "sha256")})
            for e in ng + ok]


SELECT_RULES = ("precision70", "f1")


def choose_threshold(table, rule="precision70"):
    """The final (NMS IoU, NMS mode, threshold). "precision70": the best box recall at precision >= 0.7 (the
    target operating point of the NEU-DET issue); when none reaches that precision, the best F1, since chasing
    precision alone then throws the recall away for nothing. "f1": the best F1 (a station that must find defects
    more than it must avoid a spare box: the virtual line)."""
    f1 = lambda v: 2 * v["precision"] * v["recall"] / max(v["precision"] + v["recall"], 1e-9)
    if rule not in SELECT_RULES:
        raise ValueError(f"unknown selection rule {rule!r}; one of {SELECT_RULES}")
    ok = [t for t, v in table.items() if v["precision"] >= 0.7] if rule == "precision70" else []
    if ok:
        return max(ok, key=lambda t: (table[t]["recall"], table[t]["precision"]))
    return max(table, key=lambda t: (f1(table[t]), table[t]["imageClassAccuracy"]))


def cache_names(trunk, crop_size, crop_margin, frame_windows, whole):
    """The --cache names of a run's O-Net and classifier: the pretrained variants (trunk: "layer1" / "layer2", None
    without --pretrained), other crop sizes and margins, and O-Net with frame windows are other networks, so their
    weights go under other names; --reselect finds a package's networks by the same names."""
    variant = f"-resnet18-{trunk}-{crop_size}-m{crop_margin:g}" if trunk else (
        f"-{crop_size}-m{crop_margin:g}" if (crop_size, crop_margin) != (48, 0.0) else "")
    return ("onet" + variant + ("-fw" if frame_windows else ""),
            ("classifier-whole" if whole else "classifier") + variant)


def regolden(a, log=print):
    """Rewrites golden/ and the manifest's golden list of an existing package with its cached stages (with --reselect,
    the O-Net NMS and threshold, the decision's region threshold and the whole-frame weight too)."""
    with open(os.path.join(a.out, "manifest.json")) as f:
        manifest = json.load(f)
    stages = manifest["detector"]["stages"]
    classes = manifest["classifier"]["classes"]
    cin = manifest["classifier"]["input"]
    CLASSIFIER_INPUT.update(size=cin["width"], margin=cin.get("cropMargin", 0.0))
    cfg = cascade.config_from_manifest(manifest["detector"])
    whole = bool(manifest["classifier"].get("wholeImage"))
    pretrained = (manifest.get("provenance") or {}).get("pretrained")
    size, margin = cascade.onet_input(cfg)
    trunk_layer = pretrained["layers"].split("..")[-1] if pretrained else None
    if pretrained:
        trunk = resnet18.convert(trunk_layer, resnet18.model_path(), log)
        onet, clf = nets.PretrainedONet(copy.deepcopy(trunk), size), nets.PretrainedClassifier(copy.deepcopy(trunk), len(classes))
    else:
        if size != 48:
            raise SystemExit(f"--golden-only: O-Net crops of {size} px need the pretrained networks; this package has none")
        onet, clf = nets.ONet(), nets.Classifier(len(classes))
    onet_name, clf_name = cache_names(trunk_layer, size, margin, cfg["frameWindows"], whole)
    nets_ = []
    for name, net, file in (("pnet", nets.PNet(), "pnet.onnx"), ("rnet", nets.RNet(), "rnet.onnx"),
                            (onet_name, onet, None if pretrained else "onet.onnx"), (clf_name, clf, None)):
        path = os.path.join(a.cache, name + ".pt")
        if os.path.exists(path):
            net.load_state_dict(torch.load(path))
        elif file:
            # A stage the run took as it was (--start-from, 0 epochs) is not in its cache: the package's file is it.
            package_weights.load_onnx_weights(net, os.path.join(a.out, file))
        else:
            raise SystemExit(f"--golden-only: {path} is missing; the cache must hold the run's networks (the "
                             "classifier's and a pretrained O-Net's batch norm is folded into their ONNX files)")
        nets_.append(net.eval())
    for st in stages:  # the cache must hold the very networks the package was exported from
        if sha256(os.path.join(a.out, st["file"])) != st["sha256"]:
            raise SystemExit(f"{st['file']}: the package changed since its manifest was written")
    val_items = data.read_dataset(a.dataset, a.val_split)
    whole_w = manifest["classifier"].get("wholeImageWeight") if whole else None
    region_t = manifest["decision"]["minRegionScore"]
    if a.reselect:
        # Re-run model selection on val with the package's networks (e.g. after a change to the selection rule).
        table = evaluate(nets_[:3], nets_[3], val_items, classes, cfg, THRESHOLDS, whole=whole, nms_grid=FINAL_NMS, log=log)
        log_table(table, log)
        key = choose_threshold(table, a.select)
        log(f"--golden-only --reselect --select {a.select}: O-Net NMS and threshold {key}: {table[key]}")
        cfg["onetNms"] = key[:2]
        cfg["thresholds"][2] = t = key[2]
        stages[2]["threshold"] = t
        stages[2]["nms"] = {"iou": key[0], "mode": key[1].capitalize()}
        region_t = manifest["decision"]["minRegionScore"] = table[key]["regionThreshold"]
        if whole:
            whole_w = manifest["classifier"]["wholeImageWeight"] = table[key]["wholeImageWeight"]
        m = manifest["metrics"]["python_val"]
        m.update(boxPrecisionIoU50=round(table[key]["precision"], 4), boxRecallIoU50=round(table[key]["recall"], 4),
                 imageClassAccuracy=round(table[key]["imageClassAccuracy"], 4),
                 partEscapes={"count": table[key]["escapes"], "of": table[key]["ngParts"]},
                 partFalseRejects={"count": table[key]["falseRejects"], "of": table[key]["okParts"]})
        manifest.setdefault("provenance", {})["reselected"] = a.command or " ".join(sys.argv)
    manifest["golden"] = make_golden(a, nets_[:3], nets_[3], classes, cfg, region_t, val_items, whole_w, log)
    with open(os.path.join(a.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    log(f"golden: {manifest['golden']}")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--dataset", help="Pascal VOC folder (images/, annotations/; an annotation without objects is a good "
                    "part, an <object> without <bndbox> an image-level label) or one folder per class (<class>/*.png, "
                    "ok/ or good/ for good parts): the layouts `edgeinspect eval` reads")
    ap.add_argument("--train-split"); ap.add_argument("--val-split")
    ap.add_argument("--out", required=True, help="package folder to write")
    ap.add_argument("--name", default="defects"); ap.add_argument("--version", type=int, default=1)
    ap.add_argument("--label", default=None)
    ap.add_argument("--seed", type=int, default=20261123)
    ap.add_argument("--epochs", type=int, nargs=4, default=[8, 5, 2, 2],
                    metavar=("PNET", "RNET", "ONET", "CLS"))
    ap.add_argument("--min-size", type=float, default=None,
                    help="pyramid minimum object side (pixels); default 20, with --start-from the package's")
    ap.add_argument("--square", action="store_true", help="square boxes between stages (reference MTCNN)")
    ap.add_argument("--aspects", type=float, nargs="+", default=None,
                    help="window aspects (width / height) of the first stage's pyramid: 1 = MTCNN's square windows; "
                         "e.g. 0.25 0.5 1 2 4 for long, thin defects; default 1, with --start-from the package's")
    ap.add_argument("--thresholds", type=float, nargs=3, default=None, metavar=("PNET", "RNET", "ONET"),
                    help="stage thresholds (O-Net's is chosen again on val); default 0.6 0.6 0.7, with --start-from "
                         "the package's")
    ap.add_argument("--golden", type=int, default=2, help="golden images with a defect (plus one without)")
    ap.add_argument("--golden-from", choices=["val", "synthetic"], default="synthetic",
                    help="where golden images come from: 'val' copies validation images (only for data the "
                    "project generates itself, e.g. the virtual line); 'synthetic' renders probe images, so a "
                    "package trained on third-party data carries none of it")
    ap.add_argument("--golden-probes", type=int, default=None, metavar="N",
                    help="with --golden-from synthetic: probe images tried at most (default 400; 30 with --smoke, whose "
                         "one-epoch networks are rarely confident: each probe runs the whole cascade, about 0.5 s on "
                         "two busy cores, and a run that finds no confident defect tries them all)")
    ap.add_argument("--smoke", action="store_true", help="tiny synthetic data, one epoch each (CI)")
    ap.add_argument("--smoke-data", default=None, metavar="DIR",
                    help="with --smoke: write the synthetic dataset here and keep it (to evaluate the package on it)")
    ap.add_argument("--whole-image", action="store_true",
                    help="also train the classifier on whole frames and let the frame's class join the decision "
                         "(manifest classifier.wholeImage; for texture-like defects over much of the frame, as NEU-DET)")
    ap.add_argument("--cache", default=None, help="folder for per-stage weights; a later run with the same folder "
                    "reuses the stages already trained there (resume after an interruption)")
    ap.add_argument("--max-proposals", type=int, default=24,
                    help="earlier-stage detections per training image used as R-Net / O-Net crops")
    ap.add_argument("--onet-crops", type=int, default=6,
                    help="random negatives per image and jittered copies per ground truth box in O-Net's crops")
    ap.add_argument("--onet-bands", type=float, nargs=3, default=list(data.MTCNN_BANDS), metavar=("POS", "PART", "NEG"),
                    help="O-Net's IoU bands: positive from POS, part (regression only) from PART, negative below NEG; "
                         "MTCNN's 0.65 0.4 0.3 by default. 0.5 0.4 0.4 puts O-Net's positive at the IoU the evaluation "
                         "counts a detection at, so its score (the last threshold) separates what the metric separates")
    ap.add_argument("--frame-windows", choices=["none", "grid"], default=None,
                    help="fixed windows (fractions of the frame) O-Net scores beside R-Net's survivors, learned from "
                         "their crops in training (manifest detector.frameWindows): 'grid' = the whole frame, halves, "
                         "thirds, quarters and overlapping grids, 50 windows (eitrain.cascade.frame_window_grid), for "
                         "defects over much of the frame that the pyramid's small windows never propose; default "
                         "none, with --start-from the package's")
    ap.add_argument("--frame-window-negatives", type=int, default=6, metavar="N",
                    help="with --frame-windows: frame windows that miss every defect, at most N per image, join O-Net's "
                         "crops (those that overlap a defect all do)")
    ap.add_argument("--start-from", default=None, metavar="PACKAGE",
                    help="a package folder: each detector stage starts from its ONNX weights; a stage given 0 epochs "
                         "is taken as it is (its crops are not mined). The classifier always trains anew (its batch "
                         "norm is folded into the exported graph)")
    ap.add_argument("--pretrained", action="store_true",
                    help="build O-Net and the classifier on the early layers of the ImageNet-trained ResNet-18 of the "
                         "NuGet package Microsoft.ML.DnnImageFeaturizer.ResNet18 (restore it first: dotnet restore "
                         "tools/train/resnet18); sets --crop-size 64 and --crop-margin 0.25 unless given")
    ap.add_argument("--trunk", choices=["layer1", "layer2"], default="layer2",
                    help="with --pretrained: how much of the trunk (layer1: stride 4, 64 channels; layer2: stride 8, 128)")
    ap.add_argument("--crop-size", type=int, default=None,
                    help="O-Net's and the classifier's input side (default 48; 64 with --pretrained)")
    ap.add_argument("--crop-margin", type=float, default=None,
                    help="context around each box in O-Net's and the classifier's crops, as a fraction of its side on "
                         "each side (manifest input.cropMargin; default 0; 0.25 with --pretrained)")
    ap.add_argument("--command", default=None, help="command line recorded in provenance")
    ap.add_argument("--select", choices=SELECT_RULES, default="precision70",
                    help="how model selection picks the O-Net NMS and threshold on val: precision70 = the best box "
                         "recall at precision >= 0.7, else the best F1; f1 = the best F1")
    ap.add_argument("--reselect", action="store_true", help="with --golden-only: redo the O-Net threshold selection on val")
    ap.add_argument("--golden-only", action="store_true", help="redo only the golden images of the package in --out "
                    "from the four stages in --cache (e.g. after changing the golden rules), keeping everything else")
    a = ap.parse_args()

    if any(e == 0 for e in a.epochs[:3]) and not a.start_from:
        ap.error("--epochs 0 for a detector stage needs --start-from PACKAGE (the stage is taken from there)")
    if a.epochs[3] <= 0:
        ap.error("--epochs: the classifier needs at least one epoch")
    if a.pretrained and a.start_from and a.epochs[2] == 0:
        ap.error("--pretrained with --start-from: O-Net on the pretrained trunk cannot be read back from a package "
                 "(its batch norm is folded into the exported graph); give O-Net epochs")
    if a.golden_only and not os.path.exists(os.path.join(a.out, "manifest.json")):
        ap.error(f"--golden-only: {os.path.join(a.out, 'manifest.json')} does not exist; --out must be the package to rework")
    if a.reselect and not a.val_split:
        ap.error("--reselect needs --val-split: model selection on the training images would promise what new parts "
                 "will not show")
    if not a.smoke and not a.golden_only and not a.val_split:
        ap.error("--val-split is missing: model selection (the best epoch, O-Net's NMS and threshold, the whole-image "
                 "weight) would then choose on the training images, and figures chosen on the data they are reported "
                 "on promise what new parts will not show; give a val split the training does not use")
    # A fine-tune keeps the cascade its networks were tuned with: a P-Net tuned to 0.95 gives dozens of windows a frame
    # at the default 0.6, and a pyramid of other aspects feeds it windows it never learned.
    cascade_defaults = {"min_size": 20.0, "aspects": [1.0], "thresholds": [0.6, 0.6, 0.7], "frame_windows": "none"}
    if a.start_from:
        with open(os.path.join(a.start_from, "manifest.json")) as f:
            start_cfg = cascade.config_from_manifest(json.load(f)["detector"])
        cascade_defaults = {"min_size": start_cfg["pyramid"]["minSize"], "aspects": list(start_cfg["pyramid"]["aspects"]),
                            "thresholds": list(start_cfg["thresholds"]),
                            "frame_windows": "grid" if start_cfg["frameWindows"] else "none"}
    for key, value in cascade_defaults.items():
        if getattr(a, key) is None:
            setattr(a, key, value)
    a.golden_probes = a.golden_probes if a.golden_probes is not None else (30 if a.smoke else 400)
    if a.golden_probes < 1:
        ap.error("--golden-probes: at least 1")
    a.crop_size = a.crop_size or (64 if a.pretrained else 48)
    a.crop_margin = a.crop_margin if a.crop_margin is not None else (0.25 if a.pretrained else 0.0)
    if not 0 <= a.crop_margin <= 2:
        ap.error(f"--crop-margin {a.crop_margin}: must be in [0, 2] (the manifest's input.cropMargin)")
    CLASSIFIER_INPUT.update(size=a.crop_size, margin=a.crop_margin)
    torch.set_num_threads(2)  # the build machine has two shared cores
    seed_all(a.seed)
    rng = np.random.default_rng(a.seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    t0 = time.time()
    commit, trainer_modified = git_commit()
    os.makedirs(a.out, exist_ok=True)
    # --golden-only reworks an existing package: its training log is kept and the rework appended to it.
    logf = open(os.path.join(a.out, "train.log"), "a" if a.golden_only else "w")

    def log(msg):
        line = f"[{time.time() - t0:7.1f}s] {msg}"
        print(line, flush=True); logf.write(line + "\n"); logf.flush()

    tmp = None
    if a.smoke:
        root = a.smoke_data or tempfile.mkdtemp(prefix="eitrain-smoke-")
        tmp = None if a.smoke_data else root
        make_smoke_dataset(root, rng, good_parts=a.pretrained or a.whole_image)
        a.dataset, a.train_split, a.val_split = root, os.path.join(root, "train.txt"), os.path.join(root, "val.txt")
        a.epochs = [min(e, 1) for e in a.epochs]; a.min_size = 12  # 0 (taken from --start-from) stays 0
    if a.golden_only:
        return regolden(a, log)
    val_items = data.read_dataset(a.dataset, a.val_split)
    train_items = data.read_dataset(a.dataset, a.train_split)
    held = {it[0] for it in val_items}
    overlap = sum(it[0] in held for it in train_items)
    if overlap and a.train_split:
        raise SystemExit(f"{overlap} images are in both --train-split and --val-split: model selection on val would "
                         "choose on training images; make the splits disjoint")
    # Without --train-split, training takes every image the val split does not list.
    train_items = [it for it in train_items if it[0] not in held]
    # The classes: every boxed or image-level defect class of the training images, and "ok" when there are good parts
    # (a region or a whole frame can then be called OK; "ok" is never an NG class).
    defects = sorted({c for it in train_items for c in it[2]} | {it.label for it in train_items if it.label != data.OK})
    has_ok = any(it.label == data.OK for it in train_items)
    if not defects:
        # decision.ngClasses would be empty, which the device reads as "every class is NG" (DecisionPolicy): the
        # package would fail every part, its own golden images included.
        raise SystemExit("the training images hold no defect class (every part is good, as in an export of the model's "
                         "false alarms alone): there is nothing to call NG; add defective parts (e.g. dataset export "
                         "--kind all with the station's sample of agreed parts)")
    # A class only the val split holds (a small export splits by position, not by class) is still a class: without it
    # its val images would have no label to score against. The classifier learns nothing for it, and the log says so.
    val_only = sorted(({c for it in val_items for c in it[2]} | {it.label for it in val_items if it.label != data.OK}) - set(defects))
    if val_only:
        log(f"warning: classes {val_only} are only in the val split: the classifier gets no training image of them")
    classes = sorted(defects + val_only + ([data.OK] if has_ok else []))
    log(f"{len(train_items)} train / {len(val_items)} val images ({sum(it.label == data.OK for it in train_items)} / "
        f"{sum(it.label == data.OK for it in val_items)} good parts, "
        f"{sum(not it.has_boxes and it.label != data.OK for it in train_items)} defective train images without boxes), "
        f"classes {classes}, device {device}")
    if a.whole_image and not has_ok:
        if any(it.label == data.OK for it in val_items):
            raise SystemExit("--whole-image: the training images have no good parts, so the whole-frame classifier "
                             "has no \"ok\" class and would call every part NG, the val split's good parts included; "
                             "add good parts to the training data (VOC annotations without objects, or an ok/ folder)")
        log("warning: --whole-image without good parts: every frame gets a defect class, so every part will be NG "
            "(right only where every part is defective, as in NEU-DET)")
    # The detector learns only from images whose defects are all boxed, or that are good parts (every window a negative).
    det_train = [it for it in train_items if it.box_known]
    det_val = [it for it in val_items if it.box_known]
    if not any(len(it[1]) for it in det_train):
        if not a.whole_image:
            raise SystemExit("no boxed defect in the training images: the detector has nothing to find; train with "
                             "--whole-image (the part is decided by the whole-frame class) or add boxes")
        log("warning: no boxed defect: the detector learns only negatives and will find no region; the decision rests "
            "on the whole-frame class")
    if a.pretrained:
        trunk_source = resnet18.model_path()  # fails here, naming the restore command, before any work is done
    cfg = {"pyramid": {"minSize": a.min_size, "scaleFactor": 0.709, "maxScales": 0, "aspects": list(a.aspects)},
           "thresholds": list(a.thresholds), "crossNms": 0.7, "square": a.square,
           "onetSize": a.crop_size, "onetMargin": a.crop_margin,
           "frameWindows": cascade.frame_window_grid() if a.frame_windows == "grid" else []}
    times = {}

    def stage_seed(k):
        """Each stage draws from its own seeded streams, so a resumed run (--cache) makes exactly the
        data and weights of an uninterrupted one."""
        torch.manual_seed(a.seed + k)
        return np.random.default_rng([a.seed, k])

    ts = time.time()
    def in_cache(name):
        # A cached stage, or one taken from --start-from as it is, needs no training data: skip mining its crops
        # (minutes on two cores).
        k = ["pnet", "rnet", "onet"].index(name)
        file = onet_name if name == "onet" else name
        return (a.cache and os.path.exists(os.path.join(a.cache, file + ".pt"))) or (a.start_from and a.epochs[k] == 0)

    onet_name, clf_name = cache_names(a.trunk if a.pretrained else None, a.crop_size, a.crop_margin, cfg["frameWindows"],
                                      a.whole_image)

    converted = []

    def trunk():
        # Parsing the 64 MB graph takes a while on two cores: once, then a copy for each network built on it.
        if not converted:
            converted.append(resnet18.convert(a.trunk, trunk_source, log))
        return copy.deepcopy(converted[0])

    def make_onet():
        if a.pretrained:
            return nets.PretrainedONet(trunk(), a.crop_size)
        if a.crop_size != 48:
            raise SystemExit(f"--crop-size {a.crop_size}: MTCNN's O-Net takes 48 x 48 crops; other sizes need --pretrained")
        return nets.ONet()

    def make_classifier():
        if a.pretrained:
            return nets.PretrainedClassifier(trunk(), len(classes))
        if a.crop_size != 48:
            raise SystemExit(f"--crop-size {a.crop_size}: the small classifier takes 48 x 48 crops; other sizes need --pretrained")
        return nets.Classifier(len(classes))

    rng = stage_seed(0)
    ptr = pva = None
    if not in_cache("pnet"):
        log(f"P-Net crops: cutting from {len(det_train)} train and {len(det_val)} val images")
        ptr = data.pnet_crops(det_train, rng, aspects=a.aspects, progress=Progress(log, "P-Net train crops", len(det_train)).step)
        pva = data.pnet_crops(det_val, rng, aspects=a.aspects, progress=Progress(log, "P-Net val crops", len(det_val)).step)
        log(f"P-Net crops: {len(ptr[0])} train ({(ptr[1] == 1).sum()} pos, {(ptr[1] == -1).sum()} part, {(ptr[1] == 0).sum()} neg)")
    pnet, _ = cached(a.cache, "pnet", nets.PNet(), lambda n: train_detector("pnet", n, ptr, pva, a.epochs[0], 3e-3, device, rng, log), log,
                     a.start_from, a.epochs[0])
    times["pnet_s"] = round(time.time() - ts, 1); ts = time.time()

    rng = stage_seed(1)
    rtr = rva = None
    first = first_v = None
    if not in_cache("rnet") or not in_cache("onet"):
        # P-Net's boxes on every image, computed once: R-Net's crops draw from them and O-Net's mining refines them.
        prog = Progress(log, "P-Net over the pyramid of every train and val image", len(det_train) + len(det_val))
        first, first_v = [], []
        for i, it in enumerate(det_train + det_val):
            (first if i < len(det_train) else first_v).append(cascade.stage1(pnet, data.load_rgb(it[0]), cfg))
            prog.step(i + 1)
        log(f"P-Net boxes: {np.mean([len(d) for d in first]):.1f} per train image")
    if not in_cache("rnet"):
        det1 = detections([pnet], det_train, cfg, 1, a.max_proposals, rng, first)
        det1v = detections([pnet], det_val, cfg, 1, a.max_proposals, rng, first_v)
        log(f"P-Net proposals: {np.mean([len(d) for d in det1]):.1f} per train image")
        rtr = data.refine_crops(det_train, 24, rng, det1, progress=Progress(log, "R-Net train crops", len(det_train)).step)
        rva = data.refine_crops(det_val, 24, rng, det1v, progress=Progress(log, "R-Net val crops", len(det_val)).step)
        log(f"R-Net crops: {len(rtr[0])} train ({(rtr[1] == 1).sum()} pos, {(rtr[1] == -1).sum()} part, {(rtr[1] == 0).sum()} neg)")
    rnet, _ = cached(a.cache, "rnet", nets.RNet(), lambda n: train_detector("rnet", n, rtr, rva, a.epochs[1], 2e-3, device, rng, log), log,
                     a.start_from, a.epochs[1])
    times["rnet_s"] = round(time.time() - ts, 1); ts = time.time()

    rng = stage_seed(2)
    otr = ova = None
    if not in_cache("onet"):
        # O-Net is the costly net to train on two cores: fewer random crops than R-Net (--onet-crops).
        det2 = detections([pnet, rnet], det_train, cfg, 2, a.max_proposals, rng, first, log)
        det2v = detections([pnet, rnet], det_val, cfg, 2, a.max_proposals, rng, first_v, log)
        log(f"R-Net survivors: {np.mean([len(d) for d in det2]):.1f} per train image")
        if cfg["frameWindows"]:
            det2 = frame_window_samples(det_train, det2, cfg, a.frame_window_negatives, a.onet_bands, rng)
            det2v = frame_window_samples(det_val, det2v, cfg, a.frame_window_negatives, a.onet_bands, rng)
            log(f"with the frame windows: {np.mean([len(d) for d in det2]):.1f} O-Net candidates per train image")
        bands = tuple(a.onet_bands)
        otr = data.refine_crops(det_train, a.crop_size, rng, det2, neg_per_image=a.onet_crops, pos_tries=a.onet_crops,
                                bands=bands, margin=a.crop_margin, progress=Progress(log, "O-Net train crops", len(det_train)).step)
        ova = data.refine_crops(det_val, a.crop_size, rng, det2v, neg_per_image=a.onet_crops, pos_tries=a.onet_crops,
                                bands=bands, margin=a.crop_margin)
        log(f"O-Net crops ({a.crop_size} px, margin {a.crop_margin}): {len(otr[0])} train ({(otr[1] == 1).sum()} pos, "
            f"{(otr[1] == -1).sum()} part, {(otr[1] == 0).sum()} neg)")
    onet, _ = cached(a.cache, onet_name, make_onet(), lambda n: train_detector("onet", n, otr, ova, a.epochs[2], 2e-3, device, rng, log), log,
                     None if a.pretrained else a.start_from, a.epochs[2])
    times["onet_s"] = round(time.time() - ts, 1); ts = time.time()
    del ptr, rtr, otr

    rng = stage_seed(3)
    ctr = data.class_crops(train_items, classes, a.crop_size, rng, jitter=4, margin=a.crop_margin,
                           progress=Progress(log, "classifier train crops", len(train_items)).step)
    cva = data.class_crops(val_items, classes, a.crop_size, rng, jitter=1, margin=a.crop_margin)
    if a.whole_image:
        wtr = data.whole_images(train_items, classes, a.crop_size)
        wva = data.whole_images(val_items, classes, a.crop_size, flips=False)
        ctr = (np.concatenate([ctr[0], wtr[0]]), np.concatenate([ctr[1], wtr[1]]))
        cva = (np.concatenate([cva[0], wva[0]]), np.concatenate([cva[1], wva[1]]))
    log(f"classifier crops: {len(ctr[0])} train, {len(cva[0])} val" + (" (whole frames included)" if a.whole_image else ""))
    clf, crop_acc = cached(a.cache, clf_name, make_classifier(),
                           lambda n: train_classifier(n, ctr, cva, a.epochs[3], 2e-3, device, rng, log), log)
    times["classifier_s"] = round(time.time() - ts, 1); ts = time.time()

    # Model selection on val: the final NMS and threshold with the best recall at precision >= 0.7.
    table = evaluate([pnet, rnet, onet], clf, val_items, classes, cfg, THRESHOLDS, whole=a.whole_image, nms_grid=FINAL_NMS,
                     log=log)
    log_table(table, log)
    key = choose_threshold(table, a.select)
    final_t = key[2]
    cfg["thresholds"][2] = final_t
    cfg["onetNms"] = key[:2]
    img_acc = table[key]["imageClassAccuracy"]
    log(f"chosen O-Net NMS {key[1]} {key[0]}, threshold {final_t}: {table[key]}, image-level class accuracy {img_acc:.4f}")
    times["evaluation_s"] = round(time.time() - ts, 1)

    files = {}
    for fname, model, size, fcn in (("pnet.onnx", nets.ExportFcn(pnet), 12, True),
                                    ("rnet.onnx", nets.ExportRefine(rnet), 24, False),
                                    ("onet.onnx", nets.ExportRefine(onet), a.crop_size, False),
                                    ("classifier.onnx", nets.ExportClassifier(clf), a.crop_size, False)):
        log(f"exporting {fname}")
        export(model.eval(), os.path.join(a.out, fname), size, fcn)
        files[fname] = sha256(os.path.join(a.out, fname))
    if a.smoke:
        # --start-from and stage_recall.py --package read these files back into the training networks: check here,
        # on every smoke run, that the read gives every parameter of the network that was exported.
        plain = [("pnet.onnx", pnet, nets.PNet()), ("rnet.onnx", rnet, nets.RNet())]
        for fname, net, fresh in plain + ([] if a.pretrained else [("onet.onnx", onet, nets.ONet())]):
            back = package_weights.load_onnx_weights(fresh, os.path.join(a.out, fname)).state_dict()
            for k, v in net.state_dict().items():
                if not torch.equal(back[k], v.contiguous()):
                    raise SystemExit(f"{fname}: {k} read back from the ONNX file differs from the trained network")
        log("smoke: the exported detector weights read back equal (package_weights)")

    whole_w = table[key]["wholeImageWeight"] if a.whole_image else None
    region_t = table[key]["regionThreshold"]
    golden = make_golden(a, [pnet, rnet, onet], clf, classes, cfg, region_t, val_items, whole_w, log)

    def stage(name, size, thr, nms, regw, after, margin=0.0):
        return {"name": name, "file": name + ".onnx", "sha256": files[name + ".onnx"],
                "input": input_spec(size, margin), "outputs": {"boxes": "boxes", "scores": "scores"},
                "threshold": thr, "nms": nms, "regressionWidth": regw, "nmsAfterRegression": after,
                "square": a.square}

    manifest = {
        "schema": 1, "name": a.name, "version": a.version, "label": a.label,
        "detector": {
            "kind": "cascade",
            "pyramid": {"minSize": a.min_size, "scaleFactor": 0.709, "cellSize": 12, "stride": 2, "maxScales": 0,
                        **({"aspects": list(a.aspects)} if list(a.aspects) != [1.0] else {})},
            "stages": [stage("pnet", 0, cfg["thresholds"][0], {"iou": 0.5, "mode": "Union"}, "exclusive", False),
                       stage("rnet", 24, cfg["thresholds"][1], {"iou": 0.7, "mode": "Union"}, "inclusive", False),
                       stage("onet", a.crop_size, cfg["thresholds"][2], {"iou": key[0], "mode": key[1].capitalize()}, "inclusive",
                             True, a.crop_margin)],
            "crossScaleNms": {"iou": 0.7, "mode": "Union"},
            **({"frameWindows": cfg["frameWindows"]} if cfg["frameWindows"] else {}),
        },
        "classifier": {"file": "classifier.onnx", "sha256": files["classifier.onnx"],
                       "input": input_spec(a.crop_size, a.crop_margin),
                       "output": "probs", "outputIsLogits": False, "classes": classes,
                       **({"wholeImage": True, "wholeImageWeight": whole_w} if a.whole_image else {})},
        "decision": {"ngClasses": [c for c in classes if c != data.OK], "minRegionScore": region_t,
                     "actThresholds": {}, "defaultActThreshold": 0.9},
        "golden": golden,
        "provenance": {
            "trainer": "tools/train/train.py", "command": a.command or " ".join(sys.argv),
            "gitCommit": commit, "trainerModified": trainer_modified, "dataset": "synthetic smoke set" if a.smoke else os.path.abspath(a.dataset),
            "trainSplit": None if a.smoke else a.train_split, "valSplit": None if a.smoke else a.val_split,
            "trainImages": len(train_items), "valImages": len(val_items), "seed": a.seed,
            "epochs": a.epochs, "device": device, "torch": torch.__version__, "opset": OPSET,
            "pretrained": ({"package": f"Microsoft.ML.DnnImageFeaturizer.ResNet18 {resnet18.VERSION}", "license": "MIT",
                            "network": "ResNet-18 (ImageNet)", "layers": f"stem..{a.trunk}",
                            "usedBy": ["onet", "classifier"]} if a.pretrained else None),
            "goodPartsTrain": sum(it.label == data.OK for it in train_items),
            "imageLabelsWithoutBoxes": sum(not it.has_boxes and it.label != data.OK for it in train_items),
            "trainingSeconds": times, "totalSeconds": round(time.time() - t0, 1),
        },
        "metrics": {"python_val": {
            "boxPrecisionIoU50": round(table[key]["precision"], 4),
            "boxRecallIoU50": round(table[key]["recall"], 4),
            "imageClassAccuracy": round(img_acc, 4), "classifierCropAccuracy": None if crop_acc is None else round(crop_acc, 4),
            "partEscapes": {"count": table[key]["escapes"], "of": table[key]["ngParts"]},
            "partFalseRejects": {"count": table[key]["falseRejects"], "of": table[key]["okParts"]}}},
    }
    with open(os.path.join(a.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    log(f"wrote {a.out}/manifest.json in {time.time() - t0:.0f} s")
    card.write_card(os.path.join(a.out, "MODEL_CARD.md"), a, manifest, table[key], key, train_items, val_items, device,
                    os.path.join(a.out, "train.log"))
    log(f"wrote {a.out}/MODEL_CARD.md (a draft: the sections marked 'to write' and the device runtime's figures are yours)")
    if tmp:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
