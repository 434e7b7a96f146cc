"""MODEL_CARD.md written at the end of a training run, from what the run itself knows: the data and its split, the
networks and settings, the time each step took on which hardware, and the val figures at the chosen operating point.

It is a first draft, not a finished card: the figures a line decides on come from the device runtime (`edgeinspect
eval` and `model tune`, on parts the training never saw), so the card lists those commands and leaves the sections
only a person can write marked as such.
"""
import collections
import math
import os
import platform
import time

from . import data


def wilson(count, of, z=1.96):
    """The Wilson score interval of count / of (the same formula as the C# Core/Shadow/Wilson.cs)."""
    if of == 0:
        return (0.0, 1.0)
    p = count / of
    d = 1 + z * z / of
    centre = (p + z * z / (2 * of)) / d
    half = z * math.sqrt(p * (1 - p) / of + z * z / (4 * of * of)) / d
    return (max(0.0, centre - half), min(1.0, centre + half))


def rate(count, of):
    """'7.1 % (5 of 70, 95 % CI 3.1 .. 15.7 %)', or n/a for no parts."""
    if of == 0:
        return "n/a (no such parts in the split)"
    lo, hi = wilson(count, of)
    return f"{100 * count / of:.1f} % ({count} of {of}, 95 % CI {100 * lo:.1f} .. {100 * hi:.1f} %)"


def hardware(device):
    """The machine the run used, in words."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        if names:
            cpu = names[0]
    except OSError:
        pass
    words = f"{cpu}, {os.cpu_count()} logical CPUs"
    if device == "cuda":
        import torch
        words = f"GPU {torch.cuda.get_device_name(0)}; " + words
    return words


def _split_lines(items):
    parts = collections.Counter(it.label for it in items)
    boxes = collections.Counter(n for it in items for n in it[2])
    no_box = sum(not it.has_boxes and it.label != data.OK for it in items)
    line = ", ".join(f"{c} {parts[c]}" for c in sorted(parts))
    box_line = ", ".join(f"{c} {boxes[c]}" for c in sorted(boxes)) or "none"
    return f"{len(items)} parts ({line}); boxes: {box_line}; defective parts labelled without a box: {no_box}"


def write_card(path, a, manifest, row, key, train_items, val_items, device, log_path):
    """Writes the draft card for the package whose manifest is `manifest`; `row` and `key` are the chosen row of the
    selection table and its (NMS IoU, NMS mode, threshold)."""
    prov = manifest["provenance"]
    det = manifest["detector"]
    clf = manifest["classifier"]
    classes = clf["classes"]
    times = prov["trainingSeconds"]
    pyramid = det["pyramid"]
    onet = det["stages"][2]
    margin = onet["input"].get("cropMargin", 0)
    pre = prov.get("pretrained")
    lines = [
        f"# Model card: {a.name} (version {a.version}" + (f", label {a.label})" if a.label else ")"),
        "",
        f"Drafted by `tools/train/train.py` at the end of its run ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}). "
        "Every figure here was measured by that run on its val split with the trainer's Python cascade; the sections "
        "marked *to write* need a person, and the figures a line decides on come from the device runtime (below).",
        "",
        "## What it is",
        f"An MTCNN-style detector: P-Net over an image pyramid (min size {pyramid['minSize']} px, factor "
        f"{pyramid['scaleFactor']}, window aspects {', '.join(str(x) for x in pyramid.get('aspects', [1.0]))}), R-Net on "
        f"24 x 24 crops, O-Net on {a.crop_size} x {a.crop_size} crops"
        + (f" with {margin:g} of the box's side as context on each side" if margin else "")
        + (f" (R-Net's survivors and {len(det['frameWindows'])} fixed frame windows, `--frame-windows`)"
           if det.get("frameWindows") else "")
        + f", then a region classifier ({a.crop_size} x {a.crop_size}) with {len(classes)} classes: {', '.join(classes)}."
        + (" A whole-frame class joins the regions' evidence (`--whole-image`, weight "
           f"{clf.get('wholeImageWeight')})." if clf.get("wholeImage") else "")
        + (f" O-Net and the classifier build on the ImageNet-trained {pre['network']} ({pre['layers']}) of the NuGet "
           f"package {pre['package']} ({pre['license']})." if pre else " Every filter was learned from this data."),
        f"A part is NG when a region of class {', '.join(manifest['decision']['ngClasses'])} scores at least "
        f"{manifest['decision']['minRegionScore']} (`decision.minRegionScore`; `edgeinspect model tune` moves it). "
        f"Thresholds P-Net {det['stages'][0]['threshold']}, R-Net {det['stages'][1]['threshold']}, O-Net "
        f"{onet['threshold']} (NMS {onet['nms']['mode'].lower()} {onet['nms']['iou']}).",
        "",
        "## Data",
        f"`{prov['dataset']}`",
        f"- training (`{prov['trainSplit']}`): {_split_lines(train_items)}",
        f"- val (`{prov['valSplit']}`, model selection and the figures below): {_split_lines(val_items)}",
        "- *to write*: where the images come from, their terms of use, and what the line's parts look like that "
        "these do not show.",
        "",
        "## How it was made",
        "```",
        prov["command"],
        "```",
        f"Seed {prov['seed']}, epochs (P-Net, R-Net, O-Net, classifier) {' '.join(str(e) for e in prov['epochs'])}, "
        f"device {device} ({hardware(device)}), torch {prov['torch']}, trainer commit {prov['gitCommit']}"
        + (" with local changes" if prov.get("trainerModified") else "") + ".",
        "Time: " + ", ".join(f"{k.removesuffix('_s')} {v:,.0f} s" for k, v in times.items())
        + f"; {prov['totalSeconds']:,.0f} s in all. Per-epoch figures and the whole selection table: "
        f"`{os.path.basename(log_path)}`.",
        "",
        "## Figures on val at the chosen point (trainer's Python cascade)",
        f"Chosen by `--select {a.select}`: O-Net NMS {key[1]} {key[0]}, threshold {key[2]}.",
        "",
        "| figure | val |",
        "|---|---|",
        f"| escape rate (NG parts passed as OK) | {rate(row['escapes'], row['ngParts'])} |",
        f"| false-reject rate (OK parts rejected) | {rate(row['falseRejects'], row['okParts'])} |",
        f"| part class accuracy (the part's class, OK included) | {100 * row['imageClassAccuracy']:.1f} % |",
        f"| box precision / recall at IoU 0.5 | {100 * row['precision']:.1f} % / {100 * row['recall']:.1f} % |",
        "",
        "The escape and false-reject rates here come from the threshold chosen for the boxes; a line sets its own with "
        "`model tune` (below), on parts neither training nor this selection used.",
        "",
        "## Before a line uses it",
        "```",
        f"edgeinspect model check --model {a.out}",
        f"edgeinspect eval --model {a.out} --dataset {prov['dataset']} --split {prov['valSplit']}",
        f"edgeinspect model tune --model {a.out} --dataset TUNING_DATA --split TUNING_DATA/split.txt --max-false-reject 0.10 --write",
        f"edgeinspect eval --model {a.out} --dataset TEST_DATA --split TEST_DATA/test.txt",
        "```",
        "`eval` runs the device's own cascade (its figures should match the table above within a part or two); "
        "`model tune` chooses the operating point on a tuning split and records it in the manifest; the last `eval`, "
        "once, on parts no step has seen, gives the figures to put here. Then a station in shadow mode on the line "
        "(`docs/training.md`) before any automation.",
        "",
        "## Where it falls short",
        "*to write*: the classes it catches least (`eval` prints the catch rate per class), and why.",
        "",
    ]
    with open(path, "w") as f:
        f.write("\n".join(lines))
