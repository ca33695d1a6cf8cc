"""Prove a curation by training (issue #30): does the model trained on what an analysis
keeps do as well as the one trained on everything, and better than a random subset of the
same size?

    .venv/bin/python benchmarks/prove_curation.py [--budget cpu|gpu] [--limit N]
        [--seeds K] [--test-fraction F] [--device cpu|cuda]

On the CIFAR-10 training images of ../shared/data (all 50,000 with ``--budget gpu``; a
seeded 10,000 with ``--budget cpu``): a seeded per-class share is held out as the test
set and cleaned of every image the split analysis (``compute_split_similarity``) finds
near-identical to a training image. Then

1. the fast network of ``core/training.py`` (after airbench94) is trained on the full
   training part;
2. the feature-map analysis runs class-wise on that model's penultimate layer (``pool``),
   marking 10%, 20% and 30% redundant (no outliers); the wavelet analysis runs with its
   defaults; random subsets of the same sizes are drawn;
3. the network is retrained from scratch on each subset with ``--seeds`` seeds.

Prints and writes ``benchmarks/output/prove_curation_<budget>.md``: accuracy mean ± sd
per row, seconds of every step, and the device. The pieces are ``curation_cost``'s
(``bridge/curation_cost.py``, ``core/training.py``). Runs are stored on the benchmark's
dataset under ``prove_*`` keys (replaced at each run).
"""

import argparse
import os
import time
from contextlib import contextmanager

import numpy as np
from fiftyone import ViewField as F
from cifar import HERE, load_cifar

import fiftyone_redundancy.api as fr
from fiftyone_redundancy.bridge.curation_cost import curated_rows, device_name, read_training_images
from fiftyone_redundancy.core.devices import resolve_device
from fiftyone_redundancy.core.training import (
    BUDGETS,
    PENULTIMATE,
    ScoredRow,
    held_out_split,
    score_table,
    train_and_score,
    train_classifier,
)

LIMITS = {"cpu": 10_000, "gpu": None}
"""Images per budget: a seeded 10,000 on the CPU, all 50,000 on a GPU."""
SHARES = (0.1, 0.2, 0.3)
PAPER = (
    "Birodkar, Mobahi and Bengio (2019), *Semantic redundancies in image-classification datasets: "
    "the 10% you don't need*: about 10% of CIFAR-10, removed class-wise by clustering a trained "
    "model's features, with no loss of test accuracy."
)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", choices=sorted(BUDGETS), default="gpu")
    parser.add_argument("--limit", type=int, default=None, help="images; default: 10,000 for cpu, all for gpu")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--test-fraction", type=float, default=0.2)
    parser.add_argument("--device", default=None)
    args = parser.parse_args()

    budget, device = BUDGETS[args.budget], resolve_device(args.device)
    seeds = list(range(args.seeds))
    dataset = load_cifar(args.limit or LIMITS[args.budget])
    timings, started = {}, time.perf_counter()
    labels = dataset.values("ground_truth.label")
    classes = sorted(set(labels))
    ids = np.asarray(dataset.values("id"))
    train, test = held_out_split(labels, args.test_fraction, 0)
    train_view = dataset.select(ids[train].tolist())

    with step(timings, "split analysis (clean the test set)"):
        fr.compute_split_similarity(dataset, train=train_view, test=dataset.select(ids[test].tolist()),
                                    key="prove_split", device=device, progress=False, overwrite=True)  # fmt: skip
        leaked = set(dataset.select(ids[test].tolist()).match(F("prove_split_status") == "redundant").values("id"))
        clean_test = np.asarray([row for row in test if ids[row] not in leaked])
    with step(timings, "decoding images"):
        images, targets = read_training_images(dataset, labels, classes, budget.image_size, progress=False)
    with step(timings, "1. training on the full training part (seed 0)"):
        model = train_classifier(images[train], targets[train], len(classes), budget, 0, device)

    curations = {}
    for share in SHARES:
        key = f"prove_features_{round(100 * share)}"
        with step(timings, f"2. feature-map analysis, class-wise, {share:.0%} redundant"):
            fr.compute_feature_clusters(train_view, model=model, layer=PENULTIMATE, label_field="ground_truth",
                                        classwise=True, p_outlier=0.0, p_similar=share, image_size=budget.image_size,
                                        device=device, key=key, progress=False, overwrite=True)  # fmt: skip
        curations[f"feature maps, class-wise, {share:.0%} removed"] = curated_rows(dataset, [key], train)
    with step(timings, "2. wavelet analysis"):
        fr.compute_wavelet_clusters(train_view, label_field="ground_truth", key="prove_wavelet", device=device,
                                    progress=False, overwrite=True)  # fmt: skip
    wavelet = curated_rows(dataset, ["prove_wavelet"], train)
    curations[f"wavelet redundant removed ({1 - len(wavelet) / len(train):.1%})"] = wavelet

    generator = np.random.default_rng(0)
    sizes = sorted({len(rows) for rows in curations.values()}, reverse=True)
    randoms = {f"random {1 - size / len(train):.1%} removed": np.sort(generator.choice(train, size, replace=False)) for size in sizes}
    rows = []
    for name, trained in {"full": train, **curations, **randoms}.items():
        with step(timings, f"3. retraining: {name}"):
            rows.append(ScoredRow(name, train_and_score(images, targets, trained, clean_test, len(classes), budget, seeds, device)))
        print(f"{name}: {100 * rows[-1].mean:.2f}% ± {100 * rows[-1].sd:.2f}", flush=True)
    timings["total"] = time.perf_counter() - started
    report(args, budget, device, dataset, train, test, clean_test, rows, timings)


@contextmanager
def step(timings, name):
    """Time a step into ``timings[name]`` and say when it ends."""
    began = time.perf_counter()
    yield
    timings[name] = time.perf_counter() - began
    print(f"{name}: {timings[name]:.1f} s", flush=True)


def report(args, budget, device, dataset, train, test, clean_test, rows, timings):
    where = device_name(device)
    lines = [
        f"# Proving a curation by training ({args.budget} budget)",
        "",
        f"`.venv/bin/python benchmarks/prove_curation.py --budget {args.budget}"
        + (f" --limit {args.limit}" if args.limit else "") + f" --seeds {args.seeds}`; device: **{where}**.",
        "",
        f"{len(dataset):,} CIFAR-10 training images: {len(train):,} to train on, {len(test):,} held out "
        f"(seeded, per class), of which {len(test) - len(clean_test):,} have a near-identical training image "
        f"(split analysis) and are left out: {len(clean_test):,} test images. Network: {vars(budget)}.",
        "",
        score_table(rows, where),
        "",
        f"Paper: {PAPER}",
        "",
        "| step | seconds |",
        "|---|---:|",
        *(f"| {name} | {seconds:.1f} |" for name, seconds in timings.items()),
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    os.makedirs(os.path.join(HERE, "output"), exist_ok=True)
    with open(os.path.join(HERE, "output", f"prove_curation_{args.budget}.md"), "w") as handle:
        handle.write(text)


if __name__ == "__main__":
    main()
