"""Repairing a leaky split at CIFAR scale (issue 29): moves, time, and leaks before and after::

    .venv/bin/python benchmarks/repair_cifar.py [--limit N] [--test-share 0.2] [--within] [--passes 2]

The shared data holds CIFAR-10's 50,000 training images only, so the split is drawn from
them: a seeded 20% are tagged ``test`` (10,000 of 50,000: 10,000 test against 40,000
training images), the rest ``train``, on this benchmark's own clone of the CIFAR dataset
(``benchmarks/cifar.py``). Then: the train-vs-test run (leaks before), ``repair_split``
into ``repaired_split`` (timed; the moves by class), and a fresh split run on that field
(leaks after, at the same threshold). ``--within`` adds a wavelet run over all images whose
groups also move whole (copies inside one side that the split run never compared);
``--passes 2`` repairs again from the check's split run, which has compared the copies
the first pass brought to opposite sides.
"""

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from cifar import load_cifar  # noqa: E402


def repair_dataset(limit, test_share):
    """This benchmark's clone of the CIFAR dataset, split by tags into train and test."""
    import fiftyone as fo

    source = load_cifar(limit)
    name = f"{source.name}-repair"
    if fo.dataset_exists(name):
        fo.delete_dataset(name)
    dataset = source.clone(name)
    test_ids = dataset.take(round(test_share * len(dataset)), seed=2).values("id")
    dataset.select(test_ids).tag_samples("test")
    dataset.exclude(test_ids).tag_samples("train")
    return dataset


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="a seeded random subset of the 50,000 images")
    parser.add_argument("--test-share", type=float, default=0.2)
    parser.add_argument("--within", action="store_true", help="also move the groups of a wavelet run whole")
    parser.add_argument("--passes", type=int, default=1,
                        help="repair again from each check's split run (copies the previous pass could not see)")
    parser.add_argument("--tolerance", type=float, default=None, help="the repair's tolerance (default: the API's)")
    args = parser.parse_args()

    import fiftyone_redundancy.api as fr

    dataset = repair_dataset(args.limit, args.test_share)
    rows = []
    started = time.perf_counter()
    before = fr.compute_split_similarity(dataset, label_field="ground_truth", key="split", progress=False)
    rows.append(("split run before (s)", time.perf_counter() - started))
    details = before.details
    rows += [("test images", details["n_test"]), ("training images", details["n_train"]),
             ("leaked test images before", details["n_near_identical"]),
             ("leaked test share before (%)", 100 * details["share_near_identical"])]  # fmt: skip
    within = []
    if args.within:
        started = time.perf_counter()
        fr.compute_wavelet_clusters(dataset, label_field="ground_truth", key="wavelet", progress=False)
        rows.append(("wavelet run for within-set groups (s)", time.perf_counter() - started))
        within = ["wavelet"]

    options = {} if args.tolerance is None else {"tolerance": args.tolerance}
    source = "split"
    for number in range(1, args.passes + 1):
        suffix = "" if number == 1 else f"_{number}"
        started = time.perf_counter()
        repair = fr.repair_split(dataset, source, f"repaired_split{suffix}", within_runs=within, **options)
        rows.append((f"pass {number}: repair_split (s)", time.perf_counter() - started))
        by_class = repair.by_class
        test_before = sum(row["test_before"] for row in by_class)
        test_after = sum(row["test_after"] for row in by_class)
        rows += [
            (f"pass {number}: spanning families moved whole", repair.families),
            (f"pass {number}: images moved", len(repair.moved_ids)),
            ("  to train", sum(row["to_train"] for row in by_class)),
            ("  to test", sum(row["to_test"] for row in by_class)),
            ("test side before -> after", f"{test_before} -> {test_after}"),
            ("largest class test-share change (pts)", 100 * max(abs(r["test_share_after"] - r["test_share_before"]) for r in by_class)),
        ]  # fmt: skip
        print(repair.summary())
        # the check is itself a split run: a next pass repairs from what it found
        source = f"split_after{suffix}"
        started = time.perf_counter()
        after = fr.compute_split_similarity(dataset, split_field=f"repaired_split{suffix}", label_field="ground_truth",
                                            key=source, progress=False)  # fmt: skip
        rows.append((f"pass {number}: split run after (s)", time.perf_counter() - started))
        rows += [(f"pass {number}: leaked test images after", after.details["n_near_identical"]),
                 (f"pass {number}: leaked test share after (%)", 100 * after.details["share_near_identical"])]  # fmt: skip

    print(f"\n{'measure':<44}{'value':>14}")
    for label, value in rows:
        shown = f"{value:>14.2f}" if isinstance(value, float) else f"{value:>14}"
        print(f"{label:<44}{shown}")


if __name__ == "__main__":
    main()
