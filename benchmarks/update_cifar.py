"""An incremental run on CIFAR-10 (issue 29): a wavelet (or split) run kept for updates on
all but 1,000 of the images, those 1,000 added, then ``fr.update_run`` timed against a
fresh run of the same parameters on all of them (and checked equal to it).

    .venv/bin/python benchmarks/update_cifar.py [--size 50000] [--added 1000] [--analysis split]

``--size``: the images of the run after the addition (a seeded random subset of the
50,000 training images; 50,000: all of them). ``--analysis split``: a seeded 20% of the
images are tagged ``test``, the rest ``train`` (the shared data holds CIFAR-10's training
images only), and the run is the train-vs-test split run. Prints the stages of both runs.
"""

import argparse
import os
import tempfile
import time

os.environ.setdefault("FIFTYONE_DO_NOT_TRACK", "true")
os.environ.setdefault("FIFTYONE_DATABASE_VALIDATION", "false")

from cifar import load_cifar  # noqa: E402


def main():
    import fiftyone as fo
    import numpy as np

    import fiftyone_redundancy as fr

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=50_000)
    parser.add_argument("--added", type=int, default=1_000)
    parser.add_argument("--analysis", choices=("wavelet", "split"), default="wavelet")
    args = parser.parse_args()
    compute = fr.compute_wavelet_clusters if args.analysis == "wavelet" else fr.compute_split_similarity
    fields = ("status", "group", "representative") + (("best_match", "best_similarity") if args.analysis == "split" else ())
    source = load_cifar(None if args.size >= 50_000 else args.size)
    dataset = source.clone()
    try:
        if args.analysis == "split":
            test_ids = dataset.take(round(0.2 * len(dataset)), seed=2).values("id")
            dataset.select(test_ids).tag_samples("test")
            dataset.exclude(test_ids).tag_samples("train")
        added = dataset.take(args.added, seed=0)
        held = [sample.copy() for sample in added]
        dataset.delete_samples(added)
        with tempfile.TemporaryDirectory(prefix="update-cifar-") as folder:
            started = time.perf_counter()
            compute(dataset, label_field="ground_truth", update_folder=folder, progress=False)
            first = time.perf_counter() - started
            dataset.add_samples(held, progress=False)

            started = time.perf_counter()
            updated = fr.update_run(dataset, args.analysis, progress=False)
            update_seconds = time.perf_counter() - started
            started = time.perf_counter()
            fresh = compute(dataset, label_field="ground_truth", key="fresh", progress=False)
            fresh_seconds = time.perf_counter() - started

            same = all(dataset.values(f"{args.analysis}_{s}") == dataset.values(f"fresh_{s}") for s in fields)
            pairs = all(np.array_equal(updated.details["pairs"][c], fresh.details["pairs"][c]) for c in ("first", "second", "score"))
            print(f"{len(dataset):,} images ({args.added:,} added to a run of {len(dataset) - args.added:,}, which took {first:.1f} s)")
            print(f"update_run: {update_seconds:.1f} s wall; fresh run: {fresh_seconds:.1f} s wall; "
                  f"ratio {update_seconds / fresh_seconds:.2f}")  # fmt: skip
            print(f"update: {updated.details['update']}")
            print(f"same {', '.join(fields)}: {same}; same stored pairs and scores: {pairs}")
            for name, run in (("update", updated), ("fresh", fresh)):
                print(f"  {name:<7}" + ", ".join(f"{stage} {seconds:.1f}" for stage, seconds in run.timings.items()))
    finally:
        dataset.delete()


if __name__ == "__main__":
    main()
