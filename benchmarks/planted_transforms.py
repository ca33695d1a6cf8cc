"""How each wavelet setting does on the demo's planted copies, transform by transform.

    .venv/bin/python benchmarks/planted_transforms.py

For every setting: the share of planted copies grouped with their original, per transform;
the share of different-label look-alike pairs grouped (and so marked influential); and
how many of the ~2,000 natural images with no planted copy end up in a group (false
groupings, as far as anyone knows). The defaults of compute_wavelet_clusters come from
this table. Runs on core/ only, no database.
"""

import itertools
import tempfile
import time

import numpy as np

from fiftyone_redundancy.core.images import load_images
from fiftyone_redundancy.core.wavelet_analysis import WaveletParameters, analyze_wavelet_clusters
from fiftyone_redundancy.demo_data import demo_images, write_demo_images

SETTINGS = {
    "normalization": ["none", "contrast"],
    "level": [1, 2, 3],
    "approximation_only": [False, True],
    "threshold": [0.06, 0.12, 0.2],
}


def score(records, cluster_labels):
    originals = {
        r["planted_group"]: index
        for index, r in enumerate(records)
        if r["planted_transform"] == "original"
    }
    found, total = {}, {}
    for index, record in enumerate(records):
        transform = record["planted_transform"]
        if transform in (None, "original", "outlier"):
            continue
        total[transform] = total.get(transform, 0) + 1
        same = cluster_labels[index] == cluster_labels[originals[record["planted_group"]]]
        found[transform] = found.get(transform, 0) + int(same)
    sizes = np.bincount(cluster_labels)
    natural = [i for i, r in enumerate(records) if r["planted"] is None]
    false_grouped = int(np.sum(sizes[cluster_labels[natural]] > 1))
    return {t: found[t] / total[t] for t in total}, false_grouped, len(natural)


def main():
    records = write_demo_images(tempfile.mkdtemp(prefix="planted-"), demo_images())
    images = load_images([r["filepath"] for r in records], (32, 32), "rgb")
    transforms = ["exact", "jpeg", "brightness", "noise", "colour", "shift", "crop", "relabelled"]
    header = f"{'normalization':<14}{'level':>6}{'approx':>7}{'thresh':>7}  " + "".join(
        f"{t[:7]:>8}" for t in transforms
    ) + f"{'natural grouped':>17}{'seconds':>9}"
    print(header)
    for values in itertools.product(*SETTINGS.values()):
        setting = dict(zip(SETTINGS, values))
        started = time.perf_counter()
        analysis = analyze_wavelet_clusters(images, None, WaveletParameters(**setting))
        seconds = time.perf_counter() - started
        recall, false_grouped, natural = score(records, analysis.cluster_labels)
        row = f"{setting['normalization']:<14}{setting['level']:>6}{str(setting['approximation_only']):>7}{setting['threshold']:>7}  "
        row += "".join(f"{recall.get(t, float('nan')):>8.2f}" for t in transforms)
        row += f"{false_grouped:>10} / {natural}{seconds:>9.2f}"
        print(row)


if __name__ == "__main__":
    main()
