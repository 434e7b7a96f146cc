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
OK = "ok"
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")


def is_ok_class(name):
    """Class names that mean "no defect" (a folder named ok or good): the same rule as the C# LabelledImage."""
    return name.lower() in ("ok", "good")


class Item(tuple):
    """One labelled image: (image path, boxes float32 [K,4] x1,y1,x2,y2, box class names [K]), with .label the
    part's class (the first object's, boxed or not; the folder's in a folder-per-class layout; "ok" for a part
    without defects) and .has_boxes (every object has a box; False for folder-per-class images and image-level
    labels). The C# LabelledDataset reads the same layouts to the same labels."""

    def __new__(cls, path, boxes, names, label, has_boxes):
        t = super().__new__(cls, (path, boxes, names))
        t.label, t.has_boxes = label, has_boxes
        return t

    @property
    def box_known(self):
        """Whether the detector may learn from this image: every defect boxed, or a part known to be good (no
        defect anywhere, so every window is a negative)."""
        return self.has_boxes or self.label == OK


def read_split(split):
    with open(split) as f:
        return [l.strip() for l in f if l.strip() and not l.strip().startswith("#")]


def read_dataset(root, split=None):
    """Pascal VOC when root has images/ and annotations/, else one folder per class (root/<class>/*.png, "ok" or
    "good" for parts without defects): the layouts `edgeinspect eval` reads (C# LabelledDataset.Open)."""
    if not os.path.isdir(root):
        raise SystemExit(f"{root}: dataset folder not found")
    if split and not os.path.exists(split):
        raise SystemExit(f"{split}: split file not found")
    if os.path.isdir(os.path.join(root, "images")) and os.path.isdir(os.path.join(root, "annotations")):
        return read_voc(root, split)
    return read_folders(root, split)


def read_folders(root, split=None):
    """Folder per class; a split file's lines are matched by file name, as the C# reader does."""
    allowed = {os.path.basename(n) for n in read_split(split)} if split else None
    items = []
    for cls in sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d))):
        label = OK if is_ok_class(cls) else cls
        for f in sorted(os.listdir(os.path.join(root, cls))):
            if os.path.splitext(f)[1].lower() not in IMAGE_EXTENSIONS or (allowed is not None and f not in allowed):
                continue
            items.append(Item(os.path.join(root, cls, f), np.zeros((0, 4), np.float32), [], label, False))
    if not items:
        raise SystemExit(f"{root}: neither images/ + annotations/ (Pascal VOC) nor class folders with images")
    return items


def read_voc_annotation(path):
    """(boxes [K,4], box names [K], part class, every object boxed) of a VOC annotation. An <object> with a <name> and
    no <bndbox> is an image-level label: a defective part whose defect nobody boxed (C# LabelledDataset.ReadVocImage)."""
    tree = ET.parse(path)
    boxes, classes, first, all_boxed = [], [], None, True
    for obj in tree.findall("object"):
        name = obj.find("name").text.strip()
        first = first or name
        bb = obj.find("bndbox")
        if bb is None:
            all_boxed = False
            continue
        boxes.append([float(bb.find(k).text) for k in ("xmin", "ymin", "xmax", "ymax")])
        classes.append(name)
    label = OK if first is None or is_ok_class(first) else first
    return np.array(boxes, np.float32).reshape(-1, 4), classes, label, all_boxed


def read_voc(root, split=None):
    """Pascal VOC folder: images/, annotations/*.xml, optional split file (one image name a line). Returns Items."""
    img_dir, ann_dir = os.path.join(root, "images"), os.path.join(root, "annotations")
    if split:
        names = read_split(split)
    else:
        names = sorted(f for f in os.listdir(img_dir) if os.path.splitext(f)[1].lower() in IMAGE_EXTENSIONS)
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
        boxes, classes, label, all_boxed = read_voc_annotation(os.path.join(ann_dir, stem + ".xml"))
        items.append(Item(os.path.join(img_dir, os.path.basename(img)), boxes, classes, label, all_boxed))
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


def stage_crop(img, box, size, margin=0.0):
    """How the cascade crops a candidate for R-Net and O-Net (C# CascadeMath.CropOf, the reference MTCNN's pad()):
    corners truncated toward zero, then pixels x1..x2 inclusive counted from 1 (0-based x1 - 1 .. x2 - 1), the
    convention of Pascal VOC boxes too. Training crops made this way are exactly what the device feeds the nets.
    margin (the stage's input.cropMargin): the window grown on each side by margin x its width / height, rounded
    half to even (Python's round and C#'s Math.Round agree), so the net also sees the box's surroundings."""
    x1, y1, x2, y2 = (int(v) for v in box[:4])  # int() truncates toward zero, as C#'s (int) cast
    w, h = x2 - x1 + 1, y2 - y1 + 1
    mx = int(round(w * margin)) if margin > 0 and w > 0 else 0
    my = int(round(h * margin)) if margin > 0 and h > 0 else 0
    return crop_area(img, x1 - 1 - mx, y1 - 1 - my, w + 2 * mx, h + 2 * my, size)


def region_crop(img, box, size, margin=0.0):
    """How the device crops a region for the classifier (PackageInspector.CropRect): the box grown by margin x its
    side on each side, corners rounded half to even (Python's round and .NET's MathF.Round agree), width x2 - x1, at
    least 1. In float32, as the device's BoxF, so a corner on a half rounds the same way on both sides."""
    f = np.float32
    x1, y1, x2, y2 = (f(v) for v in box[:4])
    m = f(margin)
    mx, my = f((x2 - x1) * m), f((y2 - y1) * m)
    x1, y1, x2, y2 = (int(round(float(v))) for v in (f(x1 - mx), f(y1 - my), f(x2 + mx), f(y2 + my)))
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

    def __init__(self, size, refine=False, margin=0.0):
        self.size, self.refine, self.margin, self.x, self.y, self.r = size, refine, margin, [], [], []

    def add(self, img, window, label, gt=None):
        self.x.append(stage_crop(img, window, self.size, self.margin) if self.refine else crop_resize(img, window, self.size))
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


def pnet_crops(items, rng, neg_per_image=40, pos_tries=30, min_size=12, aspects=(1.0,), progress=None):
    """Random windows at every scale from min_size to the image side (multi-scale positives, part and
    negative crops, MTCNN section 2.3), of the pyramid's aspects (width / height; 1 = the square
    windows of MTCNN): a window of aspect a is what a 12 x 12 cell covers on the level scaled by
    s / sqrt(a) across and s * sqrt(a) down, so it is cropped and squashed to 12 x 12 the same way."""
    cs = CropSet(12)
    aspects = [float(a) for a in aspects]
    for i, (path, gts, _) in enumerate(items):
        if progress:
            progress(i + 1)
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


def refine_crops(items, size, rng, detections=None, neg_per_image=12, pos_tries=12, bands=MTCNN_BANDS, margin=0.0,
                 progress=None):
    """R-Net / O-Net crops: jittered (non-square) ground truth boxes, random negatives, and, when
    given, the previous stages' detections on the training images (the paper's bootstrapping:
    the next net learns on what the earlier nets let through). bands: the IoU bands of label_window;
    the last stage's score is what a detection is kept by, so bands that put its "positive" at the
    evaluation's IoU (0.5) teach it the distinction the metric draws (train.py --onet-bands)."""
    cs = CropSet(size, refine=True, margin=margin)
    for i, (path, gts, _) in enumerate(items):
        if progress:
            progress(i + 1)
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
    classifier input, with its flips (surfaces have no preferred orientation). The frame's class is the part's
    (Item.label): "ok" for good parts, which is what lets a whole-frame classifier say OK; a class the classifier
    does not have is left out."""
    xs, ys = [], []
    for item in items:
        path, name = item[0], item.label
        if name not in classes:
            continue
        img = load_rgb(path)
        c = region_crop(img, np.array([0, 0, img.shape[1], img.shape[0]], np.float64), size)
        for v in ([c, c[:, ::-1], c[::-1], c[::-1, ::-1]] if flips else [c]):
            xs.append(np.ascontiguousarray(v)); ys.append(classes.index(name))
    if not xs:
        return np.zeros((0, size, size, 3), np.float32), np.zeros(0, np.int64)
    return np.stack(xs), np.array(ys, np.int64)


def class_crops(items, classes, size, rng, jitter=6, margin=0.0, ok_per_image=2, progress=None):
    """Classifier crops: each ground truth box, jittered (detected boxes are imprecise) and flipped
    (steel and part surfaces have no preferred orientation), cut with the classifier's margin. With "ok" among the
    classes, random windows of good parts (ok_per_image each, sides 5 % to 40 % of the frame) teach it what a
    spurious box on a good part looks like, so a region can be called OK."""
    xs, ys = [], []
    for n, item in enumerate(items):
        if progress:
            progress(n + 1)
        path, gts, names = item
        if OK in classes and item.label == OK:
            img = load_rgb(path)
            H, W = img.shape[:2]
            for _ in range(ok_per_image):
                w, h = (max(4.0, float(rng.uniform(0.05, 0.4)) * s) for s in (W, H))
                x, y = float(rng.uniform(0, W - w)), float(rng.uniform(0, H - h))
                xs.append(np.ascontiguousarray(region_crop(img, np.array([x, y, x + w, y + h]), size, margin)))
                ys.append(classes.index(OK))
            continue
        if not len(gts):
            continue
        img = load_rgb(path)
        for gt, name in zip(gts, names):
            w, h = gt[2] - gt[0], gt[3] - gt[1]
            for j in range(jitter):
                d = np.zeros(4) if j == 0 else rng.uniform(-0.15, 0.15, 4) * np.array([w, h, w, h])
                c = region_crop(img, gt + d, size, margin)
                if j % 3 == 1:
                    c = c[:, ::-1]
                elif j % 3 == 2:
                    c = c[::-1]
                xs.append(np.ascontiguousarray(c)); ys.append(classes.index(name))
    if not xs:
        return np.zeros((0, size, size, 3), np.float32), np.zeros(0, np.int64)
    return np.stack(xs), np.array(ys, np.int64)
