"""Wavelet clusters on the 50,000 CIFAR-10 training images, end to end through FiftyOne,
beside fiftyone-brain's compute_near_duplicates on the same feature vectors (at the
distance grouping's cut).

    .venv/bin/python benchmarks/wavelet_cifar.py [--limit N]

Extracts ../shared/data/cifar10-train-jpg.tar.gz once (outside the repository), loads it
into a persistent FiftyOne dataset once, then prints a table of per-stage times, peak
memory, the flagged shares, and writes montages of the largest groups and of 24 random
flagged pairs to benchmarks/output/.
"""

import argparse
import os
import resource
import time

os.environ.setdefault("FIFTYONE_DO_NOT_TRACK", "true")
os.environ.setdefault("FIFTYONE_DATABASE_VALIDATION", "false")

from cifar import load_cifar  # noqa: E402
from PIL import Image  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def montage(run, path, n_groups=12, per_group=8, scale=3):
    sizes = run.group_sizes()
    largest = sorted(sizes, key=lambda g: (-sizes[g], g))[:n_groups]
    per_group = min(per_group, max(sizes.values(), default=1))
    tile = 32 * scale
    canvas = Image.new("RGB", (per_group * (tile + 2), max(1, len(largest)) * (tile + 2)), "white")
    for row, group in enumerate(largest):
        for column, filepath in enumerate(run.group_view(group).values("filepath")[:per_group]):
            with Image.open(filepath) as image:
                canvas.paste(image.convert("RGB").resize((tile, tile), Image.Resampling.NEAREST),
                             (column * (tile + 2), row * (tile + 2)))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    canvas.save(path)
    return largest


def pair_montage(run, path, n_pairs=24, seed=0, scale=3, columns=4):
    """``n_pairs`` random redundant samples beside their representative (seeded), with
    the pair's score: what a user sees of the flags, not the easiest ones."""
    import numpy as np
    from PIL import ImageDraw

    view = run.view("redundant")
    ids, representatives, scores = view.values(["id", f"{run.key}_representative", f"{run.key}_score"])
    chosen = np.random.default_rng(seed).choice(len(ids), min(n_pairs, len(ids)), replace=False)
    paths = dict(zip(*run.dataset.select(list(set(representatives)) + ids).values(["id", "filepath"])))
    tile = 32 * scale
    cell = (2 * tile + 6, tile + 16)
    rows = -(-len(chosen) // columns)
    canvas = Image.new("RGB", (columns * cell[0], rows * cell[1]), "white")
    draw = ImageDraw.Draw(canvas)
    for number, index in enumerate(chosen):
        x, y = (number % columns) * cell[0], (number // columns) * cell[1]
        for offset, sample_id in ((0, ids[index]), (tile + 2, representatives[index])):
            with Image.open(paths[sample_id]) as image:
                canvas.paste(image.convert("RGB").resize((tile, tile), Image.Resampling.NEAREST), (x + offset, y))
        draw.text((x, y + tile + 2), f"{os.path.basename(paths[ids[index]])} score {scores[index]:.2f}", fill="black")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    canvas.save(path)
    return len(chosen)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=None, help="use a random subset of this size")
    parser.add_argument("--skip-brain", action="store_true", help="do not time fiftyone-brain")
    args = parser.parse_args()

    import fiftyone.brain as fob

    import fiftyone_redundancy.api as fr
    from fiftyone_redundancy.bridge.samples import decode_images
    from fiftyone_redundancy.core.wavelet_analysis import WaveletParameters, wavelet_features

    started = time.perf_counter()
    dataset = load_cifar(args.limit)
    print(f"dataset {dataset.name}: {len(dataset)} samples (load/import {time.perf_counter() - started:.1f} s, once)")

    if "wavelet" in fr.list_runs(dataset):  # time a first run, not a replacement
        fr.delete_run(dataset, "wavelet")
    started = time.perf_counter()
    run = fr.compute_wavelet_clusters(dataset, label_field="ground_truth", key="wavelet", progress=False)
    wall = time.perf_counter() - started
    rows = [(stage, seconds) for stage, seconds in run.timings.items()]
    rows.append(("end to end (wall, incl. reading ids/labels)", wall))

    brain_seconds = None
    if not args.skip_brain:
        images = decode_images(dataset, (32, 32), "rgb", progress=False)
        features, _, _ = wavelet_features(images, WaveletParameters())
        threshold = run.parameters["radius"] ** 2 / 2  # the distance grouping's cut as a cosine distance
        started = time.perf_counter()
        index = fob.compute_near_duplicates(dataset, threshold=threshold, embeddings=features, progress=False)
        brain_seconds = time.perf_counter() - started
        brain_flagged = len(index.duplicate_ids)

    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"\n{'stage':<46}{'seconds':>10}")
    for stage, seconds in rows:
        print(f"{stage:<46}{seconds:>10.2f}")
    if brain_seconds is not None:
        print(f"{'fiftyone-brain compute_near_duplicates':<46}{brain_seconds:>10.2f}")
        print(f"{'ratio brain / ours (end to end)':<46}{brain_seconds / wall:>10.1f}")
    print(f"{'peak memory (GiB, RSS)':<46}{peak_gib:>10.2f}")
    print(f"\nfeatures: {run.details['coefficients_shape']} coefficients, {len(run.details['kept_columns'])} kept (cond {run.details['condition_number']:.0f})")
    total = len(dataset)
    for status, count in run.counts.items():
        print(f"  {status:<15}{count:>7}  ({100 * count / total:.2f}%)")
    if brain_seconds is not None:
        print(f"  brain flags {brain_flagged} samples as duplicates at the distance grouping's cut")
    path = os.path.join(HERE, "output", "wavelet_cifar_groups.png")
    groups = montage(run, path)
    print(f"\nmontage of the {len(groups)} largest groups (one row each): {path}")
    path = os.path.join(HERE, "output", "wavelet_cifar_random_pairs.png")
    print(f"montage of {pair_montage(run, path)} random flagged pairs (redundant, representative): {path}")


if __name__ == "__main__":
    main()
