"""Dataset readers and MTCNN-style training-crop generation.

Crops follow Zhang et al. 2016 ("Joint Face Detection and Alignment using Multi-task Cascaded
Convolutional Networks", section 2.3): windows with IoU < 0.3 against every ground truth box are
negatives, IoU >= 0.65 positives, 0.4..0.65 "part" (box regression only).
"""
import os
import xml.etree.ElementTree as ET

import cv2
import numpy as np

NEG, POS, PART = 0, 1, -1


def read_voc(root, split=None):
    """Pascal VOC folder: images/, annotations/*.xml, optional split file (one image name a line).
    Returns a list of (image_path, boxes float32 [K,4] x1,y1,x2,y2, class names [K])."""
    img_dir, ann_dir = os.path.join(root, "images"), os.path.join(root, "annotations")
    if split:
        with open(split) as f:
            names = [l.strip() for l in f if l.strip()]
    else:
        names = sorted(os.listdir(img_dir))
    items = []
    missing = 0
    for name in names:
        stem = os.path.splitext(os.path.basename(name))[0]
        img = name
        if not os.path.splitext(name)[1]:  # VOC split files list stems; the image may be .jpg, .png or .bmp
            img = next((stem + e for e in (".jpg", ".png", ".bmp", ".jpeg")
                        if os.path.exists(os.path.join(img_dir, stem + e))), stem + ".jpg")
        if not os.path.exists(os.path.join(img_dir, os.path.basename(img))):
            # The NEU-DET split files also list the images held out for independent evaluation.
            missing += 1
            continue
        tree = ET.parse(os.path.join(ann_dir, stem + ".xml"))
        boxes, classes = [], []
        for obj in tree.findall("object"):
            bb = obj.find("bndbox")
            boxes.append([float(bb.find(k).text) for k in ("xmin", "ymin", "xmax", "ymax")])
            classes.append(obj.find("name").text.strip())
        items.append((os.path.join(img_dir, os.path.basename(img)),
                      np.array(boxes, np.float32).reshape(-1, 4), classes))
    if missing:
        print(f"{split}: {missing} listed images are not in {img_dir}; skipped", flush=True)
    return items


def load_rgb(path):
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError(f"{path}: not a readable image")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def iou(box, boxes):
    """IoU of one box against [K,4], with pixel-exclusive areas (x2-x1)."""
    if len(boxes) == 0:
        return np.zeros(0, np.float32)
    x1 = np.maximum(box[0], boxes[:, 0]); y1 = np.maximum(box[1], boxes[:, 1])
    x2 = np.minimum(box[2], boxes[:, 2]); y2 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    a = (box[2] - box[0]) * (box[3] - box[1])
    b = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(a + b - inter, 1e-6)


def square(boxes):
    """Squares boxes around their centre with the longer side (the reference MTCNN rerec)."""
    b = boxes.copy()
    w, h = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    s = np.maximum(w, h)
    b[:, 0] += (w - s) / 2; b[:, 1] += (h - s) / 2
    b[:, 2] = b[:, 0] + s; b[:, 3] = b[:, 1] + s
    return b


def reshape(boxes, aspect):
    """Boxes of the same centre and area with width / height = aspect: the best a window of that aspect
    can cover each box (a first-stage window of one pyramid aspect is labelled against these)."""
    b = boxes.copy()
    w, h = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    area = np.maximum(w * h, 1e-6)
    nw = np.sqrt(area * aspect); nh = area / nw
    cx, cy = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
    b[:, 0], b[:, 2] = cx - nw / 2, cx + nw / 2
    b[:, 1], b[:, 3] = cy - nh / 2, cy + nh / 2
    return b


def nearest_aspect(box, aspects):
    """The pyramid aspect closest to the box's own (in log ratio)."""
    r = max(box[2] - box[0], 1e-6) / max(box[3] - box[1], 1e-6)
    return min(aspects, key=lambda a: abs(np.log(r / a)))


def crop_resize(img, box, size):
    """P-Net training crops: the box with rounded corners (zero padding outside the image), 8-bit, resized to size x
    size. P-Net never sees crops on the device, it sees the 8-bit area-resized pyramid; this is the nearest 12 x 12
    equivalent. R-Net, O-Net and the classifier see float crops: stage_crop and region_crop."""
    x1, y1, x2, y2 = [int(round(v)) for v in box]
    w, h = max(x2 - x1, 1), max(y2 - y1, 1)
    out = np.zeros((h, w, img.shape[2]), np.uint8)
    sx1, sy1 = max(x1, 0), max(y1, 0)
    sx2, sy2 = min(x2, img.shape[1]), min(y2, img.shape[0])
    if sx2 > sx1 and sy2 > sy1:
        out[sy1 - y1:sy2 - y1, sx1 - x1:sx2 - x1] = img[sy1:sy2, sx1:sx2]
    interp = cv2.INTER_AREA if (w > size or h > size) else cv2.INTER_LINEAR
    return cv2.resize(out, (size, size), interpolation=interp)


def crop_area(img, x, y, w, h, size):
    """The device's crop (OpenCvImageOps.CropResizeArea): the w x h window whose top-left pixel is (x, y), 0-based,
    zero outside the image, widened to float32 and resized with INTER_AREA on the floats (no rounding to 8 bits in
    between). An empty window is an all-zero patch, as on the device."""
    if w <= 0 or h <= 0:
        return np.zeros((size, size, img.shape[2]), np.float32)
    out = np.zeros((h, w, img.shape[2]), np.float32)
    sx1, sy1 = max(x, 0), max(y, 0)
    sx2, sy2 = min(x + w, img.shape[1]), min(y + h, img.shape[0])
    if sx2 > sx1 and sy2 > sy1:
        out[sy1 - y:sy2 - y, sx1 - x:sx2 - x] = img[sy1:sy2, sx1:sx2]
    if w == size and h == size:
        return out
    return cv2.resize(out, (size, size), interpolation=cv2.INTER_AREA)


def stage_crop(img, box, size):
    """How the cascade crops a candidate for R-Net and O-Net (C# CascadeMath.CropOf, the reference MTCNN's pad()):
    corners truncated toward zero, then pixels x1..x2 inclusive counted from 1 (0-based x1 - 1 .. x2 - 1), the
    convention of Pascal VOC boxes too. Training crops made this way are exactly what the device feeds the nets."""
    x1, y1, x2, y2 = (int(v) for v in box[:4])  # int() truncates toward zero, as C#'s (int) cast
    return crop_area(img, x1 - 1, y1 - 1, x2 - x1 + 1, y2 - y1 + 1, size)


def region_crop(img, box, size):
    """How the device crops a region for the classifier (PackageInspector.CropRect with cropMargin 0): corners
    rounded half to even (Python's round and .NET's MathF.Round agree), width x2 - x1, at least 1."""
    x1, y1, x2, y2 = (int(round(float(v))) for v in box[:4])
    return crop_area(img, x1, y1, max(1, x2 - x1), max(1, y2 - y1), size)


def reg_target(window, gt, inclusive=False):
    """Box regression target as in MTCNN: edge offsets in units of the window's width / height. R-Net and O-Net
    regress with inclusive widths on the device (x2 - x1 + 1, the manifest's regressionWidth), P-Net with exclusive
    ones; the target is the inverse of what the device will apply."""
    w, h = window[2] - window[0], window[3] - window[1]
    if inclusive:
        w, h = w + 1, h + 1
    return np.array([(gt[0] - window[0]) / w, (gt[1] - window[1]) / h,
                     (gt[2] - window[2]) / w, (gt[3] - window[3]) / h], np.float32)


class CropSet:
    """Training crops with labels and regression targets. refine=True: R-Net / O-Net crops, cut exactly as the
    device's cascade cuts them (stage_crop, float) with inclusive-width targets; otherwise P-Net crops."""

    def __init__(self, size, refine=False):
        self.size, self.refine, self.x, self.y, self.r = size, refine, [], [], []

    def add(self, img, window, label, gt=None):
        self.x.append(stage_crop(img, window, self.size) if self.refine else crop_resize(img, window, self.size))
        self.y.append(label)
        self.r.append(reg_target(window, gt, self.refine) if gt is not None else np.zeros(4, np.float32))

    def arrays(self):
        dtype = np.float32 if self.refine else np.uint8
        return (np.stack(self.x) if self.x else np.zeros((0, self.size, self.size, 3), dtype),
                np.array(self.y, np.int64), np.array(self.r, np.float32).reshape(-1, 4))


# MTCNN's IoU bands (section 2.3): (positive from, part from, negative below). Windows between "negative below"
# and "part from" are left out.
MTCNN_BANDS = (0.65, 0.4, 0.3)


def label_window(window, gts, square_gt, aspect=1.0, bands=MTCNN_BANDS):
    """Label a window against the ground truth. For the first stage, IoU is taken against the
    ground truth reshaped to the window's aspect (P-Net scans windows of the pyramid's aspects
    only, so an elongated scratch could never reach IoU 0.65 with a square); the regression target
    is always the real box, so the regression learns to stretch the window onto it. bands: (positive
    from, part from, negative below) IoU; MTCNN's by default."""
    pos, part, neg = bands
    ref = (square(gts) if aspect == 1.0 else reshape(gts, aspect)) if square_gt else gts
    ious = iou(window, ref)
    if len(ious) == 0 or ious.max() < neg:
        return NEG, None
    k = int(ious.argmax())
    if ious[k] >= pos:
        return POS, gts[k]
    if ious[k] >= part:
        return PART, gts[k]
    return None, None


def pnet_crops(items, rng, neg_per_image=40, pos_tries=30, min_size=12, aspects=(1.0,)):
    """Random windows at every scale from min_size to the image side (multi-scale positives, part and
    negative crops, MTCNN section 2.3), of the pyramid's aspects (width / height; 1 = the square
    windows of MTCNN): a window of aspect a is what a 12 x 12 cell covers on the level scaled by
    s / sqrt(a) across and s * sqrt(a) down, so it is cropped and squashed to 12 x 12 the same way."""
    cs = CropSet(12)
    aspects = [float(a) for a in aspects]
    for path, gts, _ in items:
        img = load_rgb(path)
        H, W = img.shape[:2]
        n = 0
        for _ in range(neg_per_image * 4):
            if n >= neg_per_image:
                break
            a = aspects[rng.integers(0, len(aspects))]
            s = rng.integers(min_size, min(W, H) + 1)
            w, h = max(min_size, min(W, round(s * np.sqrt(a)))), max(min_size, min(H, round(s / np.sqrt(a))))
            x, y = rng.integers(0, W - w + 1), rng.integers(0, H - h + 1)
            win = np.array([x, y, x + w, y + h], np.float32)
            lab, _ = label_window(win, gts, True, a)
            if lab == NEG:
                cs.add(img, win, NEG); n += 1
        for gt in gts:
            a = nearest_aspect(gt, aspects)
            sq = (square(gt[None]) if a == 1.0 else reshape(gt[None], a))[0]
            bw, bh = sq[2] - sq[0], sq[3] - sq[1]
            for _ in range(pos_tries):
                k = rng.uniform(0.8, 1.25)
                cx = (sq[0] + sq[2]) / 2 + rng.uniform(-0.2, 0.2) * bw
                cy = (sq[1] + sq[3]) / 2 + rng.uniform(-0.2, 0.2) * bh
                win = np.array([cx - k * bw / 2, cy - k * bh / 2, cx + k * bw / 2, cy + k * bh / 2], np.float32)
                win = np.round(win)
                if win[2] - win[0] < min_size or win[3] - win[1] < min_size:
                    continue
                lab, g = label_window(win, gts, True, a)
                if lab in (POS, PART):
                    cs.add(img, win, lab, g)
    return cs.arrays()


def refine_crops(items, size, rng, detections=None, neg_per_image=12, pos_tries=12, bands=MTCNN_BANDS):
    """R-Net / O-Net crops: jittered (non-square) ground truth boxes, random negatives, and, when
    given, the previous stages' detections on the training images (the paper's bootstrapping:
    the next net learns on what the earlier nets let through). bands: the IoU bands of label_window;
    the last stage's score is what a detection is kept by, so bands that put its "positive" at the
    evaluation's IoU (0.5) teach it the distinction the metric draws (train.py --onet-bands)."""
    cs = CropSet(size, refine=True)
    for i, (path, gts, _) in enumerate(items):
        img = load_rgb(path)
        H, W = img.shape[:2]
        n = 0
        for _ in range(neg_per_image * 4):
            if n >= neg_per_image:
                break
            w, h = rng.integers(12, W + 1), rng.integers(12, H + 1)
            x, y = rng.integers(0, W - w + 1), rng.integers(0, H - h + 1)
            win = np.array([x, y, x + w, y + h], np.float32)
            lab, _ = label_window(win, gts, False, bands=bands)
            if lab == NEG:
                cs.add(img, win, NEG); n += 1
        for gt in gts:
            w, h = gt[2] - gt[0], gt[3] - gt[1]
            for _ in range(pos_tries):
                d = rng.uniform(-0.25, 0.25, 4) * np.array([w, h, w, h])
                win = np.round(gt + d).astype(np.float32)
                if win[2] - win[0] < 6 or win[3] - win[1] < 6:
                    continue
                lab, g = label_window(win, gts, False, bands=bands)
                if lab in (POS, PART):
                    cs.add(img, win, lab, g)
        if detections is not None:
            for win in detections[i][:, :4]:
                if win[2] - win[0] < 4 or win[3] - win[1] < 4:
                    continue
                lab, g = label_window(win, gts, False, bands=bands)
                if lab is not None:
                    cs.add(img, win, lab, g)
    return cs.arrays()


def whole_images(items, classes, size, flips=True):
    """The classifier's whole-frame samples (manifest classifier.wholeImage): each labelled image resized to the
    classifier input, with its flips (surfaces have no preferred orientation). Images without a defect class
    (OK parts) are left out unless the classes include "ok"."""
    xs, ys = [], []
    for path, _, names in items:
        name = names[0] if names else "ok"
        if name not in classes:
            continue
        img = load_rgb(path)
        c = region_crop(img, np.array([0, 0, img.shape[1], img.shape[0]], np.float64), size)
        for v in ([c, c[:, ::-1], c[::-1], c[::-1, ::-1]] if flips else [c]):
            xs.append(np.ascontiguousarray(v)); ys.append(classes.index(name))
    return np.stack(xs), np.array(ys, np.int64)


def class_crops(items, classes, size, rng, jitter=6):
    """Classifier crops: each ground truth box, jittered (detected boxes are imprecise) and flipped
    (steel and part surfaces have no preferred orientation)."""
    xs, ys = [], []
    for path, gts, names in items:
        img = load_rgb(path)
        for gt, name in zip(gts, names):
            w, h = gt[2] - gt[0], gt[3] - gt[1]
            for j in range(jitter):
                d = np.zeros(4) if j == 0 else rng.uniform(-0.15, 0.15, 4) * np.array([w, h, w, h])
                c = region_crop(img, gt + d, size)
                if j % 3 == 1:
                    c = c[:, ::-1]
                elif j % 3 == 2:
                    c = c[::-1]
                xs.append(np.ascontiguousarray(c)); ys.append(classes.index(name))
    return np.stack(xs), np.array(ys, np.int64)
