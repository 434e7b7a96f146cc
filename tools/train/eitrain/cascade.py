"""The cascade at inference, in Python, with the same arithmetic as the C# CascadeDetector and the
reference MTCNN (ipazc/mtcnn 0.1.x): used to bootstrap R-Net / O-Net training data from the
earlier stages' detections and to measure validation figures before export."""
import math

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from .data import stage_crop


def normalise(u8):
    """uint8 [N,H,W,3] RGB -> float NCHW, (x - 127.5) * 0.0078125 (the manifest's InputSpec)."""
    t = torch.from_numpy(np.ascontiguousarray(u8)).float()
    return ((t - 127.5) * 0.0078125).permute(0, 3, 1, 2).contiguous()


def nms(boxes, thr, mode="union"):
    if len(boxes) == 0:
        return np.zeros(0, np.int64)
    x1, y1, x2, y2, s = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3], boxes[:, 4]
    area = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = s.argsort()
    keep = []
    while order.size > 0:
        i = order[-1]; keep.append(i)
        rest = order[:-1]
        w = np.maximum(0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + 1)
        h = np.maximum(0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + 1)
        inter = w * h
        o = inter / np.minimum(area[i], area[rest]) if mode == "min" else inter / (area[i] + area[rest] - inter)
        order = rest[o <= thr]
    return np.array(keep, np.int64)


def rerec(b):
    w, h = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    s = np.maximum(w, h)
    b[:, 0] = b[:, 0] + w * 0.5 - s * 0.5
    b[:, 1] = b[:, 1] + h * 0.5 - s * 0.5
    b[:, 2:4] = b[:, 0:2] + s[:, None]
    return b


def regress(b, reg, inclusive):
    w = b[:, 2] - b[:, 0] + (1 if inclusive else 0)
    h = b[:, 3] - b[:, 1] + (1 if inclusive else 0)
    out = b.copy()
    out[:, 0] += reg[:, 0] * w; out[:, 1] += reg[:, 1] * h
    out[:, 2] += reg[:, 2] * w; out[:, 3] += reg[:, 3] * h
    return out


def scales_for(h, w, p):
    m = 12.0 / p["minSize"]
    side = min(h, w) * m
    out = []
    while side >= 12 and (p.get("maxScales", 0) == 0 or len(out) < p["maxScales"]):
        out.append(m * p["scaleFactor"] ** len(out))
        side *= p["scaleFactor"]
    return out


def levels_for(h, w, p):
    """(scale, scale across, scale down) per pyramid level: every scale, then every aspect a of
    p["aspects"] (width / height of the window a 12 x 12 cell covers; [1] = the square MTCNN pyramid):
    across s / sqrt(a), down s * sqrt(a); levels narrower or lower than a cell are left out. The same
    order and arithmetic as the C# CascadeDetector."""
    out = []
    for s in scales_for(h, w, p):
        for a in p.get("aspects") or [1.0]:
            r = math.sqrt(a)
            sx, sy = s / r, s * r
            if math.ceil(w * sx) >= 12 and math.ceil(h * sy) >= 12:
                out.append((s, sx, sy))
    return out


@torch.no_grad()
def stage1(pnet, img, cfg):
    H, W = img.shape[:2]
    all_boxes = []
    for s, sx, sy in levels_for(H, W, cfg["pyramid"]):
        hs, ws = int(math.ceil(H * sy)), int(math.ceil(W * sx))
        im = cv2.resize(img, (ws, hs), interpolation=cv2.INTER_AREA)
        c, r = pnet(normalise(im[None]))
        prob = F.softmax(c, 1)[0, 1].numpy(); r = r[0].numpy()
        ys, xs = np.where(prob >= cfg["thresholds"][0])
        if len(ys) == 0:
            continue
        b = np.stack([np.fix((2 * xs + 1) / sx), np.fix((2 * ys + 1) / sy),
                      np.fix((2 * xs + 12) / sx), np.fix((2 * ys + 12) / sy),
                      prob[ys, xs], r[0, ys, xs], r[1, ys, xs], r[2, ys, xs], r[3, ys, xs]], 1)
        b = b[nms(b, 0.5)]
        all_boxes.append(b)
    if not all_boxes:
        return np.zeros((0, 5), np.float32)
    b = np.concatenate(all_boxes)
    b = b[nms(b, cfg["crossNms"])]
    out = regress(b[:, :4], b[:, 5:9], inclusive=False)
    out = np.concatenate([out, b[:, 4:5]], 1)
    if cfg["square"]:
        out = rerec(out)
    out[:, :4] = np.fix(out[:, :4])
    return out.astype(np.float32)


@torch.no_grad()
def scores(net, img, boxes, size, margin=0.0):
    """A refinement net on the device's crops of boxes (with the stage's input.cropMargin): (face / defect
    probability, box offsets) per box."""
    crops = np.stack([stage_crop(img, b[:4], size, margin) for b in boxes])
    c, r = net(normalise(crops))
    return F.softmax(c, 1)[:, 1].numpy(), r.numpy()


def finish(boxes, prob, reg, thr, nms_iou, nms_mode, nms_after, last, cfg):
    """A refinement stage's box arithmetic, as the C# CascadeDetector: keep prob > thr, NMS before or after the
    regression, then, except after the last stage, square (with cfg square) and truncate the corners."""
    keep = prob > thr
    b = boxes[keep].copy(); b[:, 4] = prob[keep]; r = reg[keep]
    if len(b) == 0:
        return b
    if not nms_after:
        k = nms(b, nms_iou, nms_mode); b, r = b[k], r[k]
    b[:, :4] = regress(b[:, :4], r, inclusive=True)
    if nms_after:
        b = b[nms(b, nms_iou, nms_mode)]
    if not last:  # the last stage's boxes keep their fractions, as the reference's and the device's
        if cfg["square"]:
            b = rerec(b)
        b[:, :4] = np.fix(b[:, :4])
    return b


def refine(net, img, boxes, size, thr, nms_iou, nms_mode, nms_after, cfg, last=False, margin=0.0):
    if len(boxes) == 0:
        return boxes
    prob, reg = scores(net, img, boxes, size, margin)
    return finish(boxes, prob, reg, thr, nms_iou, nms_mode, nms_after, last, cfg)


def onet_input(cfg):
    """The last stage's (crop side, crop margin): cfg["onetSize"] and cfg["onetMargin"], else MTCNN's 48 and none."""
    return cfg.get("onetSize", 48), cfg.get("onetMargin", 0.0)


def config_from_manifest(detector):
    """The cascade settings (the cfg of stage1 / detect) of a package manifest's "detector" section."""
    stages, pyr = detector["stages"], detector["pyramid"]
    return {"pyramid": {"minSize": pyr["minSize"], "scaleFactor": pyr.get("scaleFactor", 0.709),
                        "maxScales": pyr.get("maxScales", 0), "aspects": pyr.get("aspects", [1.0])},
            "thresholds": [st["threshold"] for st in stages], "crossNms": detector["crossScaleNms"]["iou"],
            "square": stages[0].get("square", False),
            "onetNms": (stages[2]["nms"]["iou"], stages[2]["nms"]["mode"].lower()),
            "onetSize": stages[2]["input"]["width"], "onetMargin": stages[2]["input"].get("cropMargin", 0.0),
            "frameWindows": detector.get("frameWindows") or []}


def final_nms(cfg):
    """The last stage's NMS (IoU, mode): cfg["onetNms"], else the reference MTCNN's 0.7 "min" after regression."""
    return tuple(cfg.get("onetNms", (0.7, "min")))


def frame_window_grid():
    """The fixed windows train.py --frame-windows grid gives the last stage, as fractions of the frame (x1, y1, x2, y2):
    the whole frame, its halves, thirds and quarters as full-height and full-width strips, a 3 x 3 grid of half-side
    windows and grids of two-thirds and three-quarter windows, each series overlapping its neighbours by half. They
    propose what the pyramid's small windows cannot: texture defects over much of the frame (NEU-DET's pitted
    surfaces and crazing: a 12-pixel P-Net cell sees only a patch of the texture, with nothing to tell where it
    ends)."""
    out = []
    for fx, fy in ((1, 1), (1 / 2, 1), (1, 1 / 2), (1, 1 / 3), (1 / 3, 1), (1 / 2, 1 / 2), (1, 1 / 4), (1 / 4, 1),
                   (2 / 3, 2 / 3), (3 / 4, 3 / 4)):
        nx = 2 * round(1 / fx) - 1 if fx < 1 else 1
        ny = 2 * round(1 / fy) - 1 if fy < 1 else 1
        for i in range(nx):
            for j in range(ny):
                x0 = (1 - fx) * i / max(nx - 1, 1)
                y0 = (1 - fy) * j / max(ny - 1, 1)
                out.append([round(v, 4) for v in (x0, y0, x0 + fx, y0 + fy)])
    return out


def frame_windows(cfg, w, h):
    """The manifest's detector.frameWindows on a w x h frame, as candidate rows (x1, y1, x2, y2, score 1): float32
    products truncated toward zero, as the C# CascadeDetector computes them."""
    fw = cfg.get("frameWindows") or []
    if not fw:
        return np.zeros((0, 5), np.float32)
    g = np.fix(np.array(fw, np.float32) * np.array([w, h, w, h], np.float32))
    return np.hstack([g, np.ones((len(g), 1), np.float32)])


def last_stage_candidates(survivors, img, cfg):
    """What the last stage scores: the second stage's survivors, then the frame windows (in that order, as the
    device)."""
    fw = frame_windows(cfg, img.shape[1], img.shape[0])
    if len(fw) == 0:
        return survivors
    return np.vstack([survivors[:, :5], fw]).astype(np.float32) if len(survivors) else fw


def detect(nets, img, cfg, upto=3, first=None):
    """The cascade up to stage upto; first: P-Net's boxes for this image when already computed (training mines
    the same P-Net boxes for R-Net and O-Net data)."""
    b = stage1(nets[0], img, cfg) if first is None else first
    if upto >= 2 and len(nets) > 1:
        b = refine(nets[1], img, b, 24, cfg["thresholds"][1], 0.7, "union", False, cfg)
    if upto >= 3 and len(nets) > 2:
        b = last_stage_candidates(b, img, cfg)
        iou_, mode = final_nms(cfg)
        size, margin = onet_input(cfg)
        b = refine(nets[2], img, b, size, cfg["thresholds"][2], iou_, mode, True, cfg, last=True, margin=margin)
    return b
