#!/usr/bin/env python3
"""Splits a labelled dataset into train, val and test files, stratified by part class (good parts are a class), so
each split holds every class in the same proportion. Reads the layouts train.py and `edgeinspect eval` read (Pascal
VOC, or one folder per class); writes one image file name a line, which both accept.

    /usr/bin/python3 tools/train/split.py --dataset DATA [--val 0.15] [--test 0.25] [--seed 20261123]

train.txt trains, val.txt chooses (the best epoch, thresholds, `model tune`), test.txt is looked at once, at the end:
a figure measured on parts that chose something promises more than new parts will give.
"""
import argparse
import collections
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from eitrain import data  # noqa: E402


def split(items, val, test, seed):
    """(train, val, test) lists of items, stratified by part class; every class with at least 3 parts has at least one
    part in each of val and test."""
    by_class = collections.defaultdict(list)
    for it in items:
        by_class[it.label].append(it)
    rng = random.Random(seed)
    out = ([], [], [])
    for label in sorted(by_class):
        group = sorted(by_class[label], key=lambda it: it[0])
        rng.shuffle(group)
        n = len(group)
        n_test = max(1, round(n * test)) if n >= 3 and test > 0 else 0
        n_val = max(1, round(n * val)) if n >= 3 and val > 0 else 0
        out[2].extend(group[:n_test])
        out[1].extend(group[n_test:n_test + n_val])
        out[0].extend(group[n_test + n_val:])
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", required=True, help="Pascal VOC folder or one folder per class")
    ap.add_argument("--val", type=float, default=0.15, help="fraction of each class for val.txt")
    ap.add_argument("--test", type=float, default=0.25, help="fraction of each class for test.txt")
    ap.add_argument("--seed", type=int, default=20261123)
    ap.add_argument("--out", default=None, help="folder for the three files (default: the dataset folder)")
    a = ap.parse_args()
    if not (0 <= a.val < 1 and 0 <= a.test < 1 and a.val + a.test < 1):
        ap.error("--val and --test are fractions whose sum is below 1")
    items = data.read_dataset(a.dataset)
    names = collections.Counter(os.path.basename(it[0]) for it in items)
    clashes = [n for n, c in names.items() if c > 1]
    if clashes:
        raise SystemExit(f"{len(clashes)} file names occur in more than one class folder (e.g. {clashes[0]}): split "
                         "files list file names, so rename them apart first")
    parts = split(items, a.val, a.test, a.seed)
    out = a.out or a.dataset
    os.makedirs(out, exist_ok=True)
    for name, group in zip(("train.txt", "val.txt", "test.txt"), parts):
        with open(os.path.join(out, name), "w") as f:
            f.writelines(os.path.basename(it[0]) + "\n" for it in sorted(group, key=lambda it: it[0]))
        counts = collections.Counter(it.label for it in group)
        print(f"{os.path.join(out, name)}: {len(group)} parts ({', '.join(f'{c} {counts[c]}' for c in sorted(counts))})")


if __name__ == "__main__":
    main()
