"""How fast pair review is on a 50,000-sample run (goals: the panel opens in 2 s or less,
the next pair shows in 300 ms or less, a re-cut takes 5 s or less)::

    .venv/bin/python benchmarks/review_cifar.py [--limit N] [--reviews 100]

Works on its own clone of the CIFAR-10 benchmark dataset (``benchmarks/cifar.py``; the
wavelet run is computed once if the clone has none), so the shared dataset's runs are never
changed. Times the Pair review panel's handlers headlessly, as the App's server runs them
(open with a cold cache, open again, each decision until the next pair is shown), the
re-cut, and the per-event core steps at the storage cap (20 pairs per image).
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
_PLUGINS = tempfile.mkdtemp(prefix="redundancy-bench-plugins-")
os.symlink(os.path.dirname(HERE), os.path.join(_PLUGINS, "fiftyone-redundancy"))
os.environ["FIFTYONE_PLUGINS_DIR"] = _PLUGINS  # this checkout's panel, whatever else is installed
sys.path.insert(0, HERE)
from cifar import load_cifar  # noqa: E402
from panels_cifar import timed_handler  # noqa: E402

KEY = "wavelet"


def review_dataset(limit):
    """This benchmark's clone of the CIFAR dataset, with a wavelet run and no reviews."""
    import fiftyone as fo

    import fiftyone_redundancy.api as fr

    source = load_cifar(limit)
    name = f"{source.name}-review"
    if fo.dataset_exists(name):
        dataset = fo.load_dataset(name)
    else:
        dataset = source.clone(name, persistent=True)
    if KEY not in fr.list_runs(dataset):
        print(f"computing the wavelet run on {len(dataset):,} images once ...")
        fr.compute_wavelet_clusters(dataset, label_field="ground_truth", key=KEY)
    while fr.undo_review(dataset, KEY) is not None:
        pass
    if fr.load_run(dataset, KEY).parameters["threshold"] != 0.55:
        fr.recut_run(dataset, KEY, 0.55)
    return dataset


def panel(dataset, n_reviews):
    """Open the panel twice, then decide ``n_reviews`` pairs one after the other (the
    answer: "same" above the run's cut, "different" below, standing in for a person)."""
    import fiftyone_redundancy.api as fr
    from fiftyone_redundancy.bridge import review

    review._tables.clear()
    cold, _, state = timed_handler(dataset, "pair_review", "on_load", state={"key": KEY})
    warm, _, state = timed_handler(dataset, "pair_review", "on_load", state=state)
    if state.get("error_md"):
        raise RuntimeError(state["error_md"])
    print(f"panel open, cold cache      {cold:7.2f} s")
    print(f"panel open, again           {warm:7.2f} s")
    table = review.pair_table(dataset, KEY)
    score_of = {(table.sample_ids[a], table.sample_ids[b]): s for a, b, s in zip(table.pairs.first, table.pairs.second, table.pairs.score)}
    seconds = []
    for _ in range(n_reviews):
        if not state.get("pair"):
            print(f"every stored pair is reviewed: {state['progress_md']}")
            break
        pair = tuple(state["pair"])
        score = score_of.get(pair, score_of.get(pair[::-1], 0))
        spent, _, state = timed_handler(dataset, "pair_review", "same" if score >= table.threshold else "different", state=state)
        seconds.append(spent)
    print(f"next pair after a decision  median {statistics.median(seconds) * 1000:5.0f} ms, "
          f"90th percentile {np.percentile(seconds, 90) * 1000:5.0f} ms, max {max(seconds) * 1000:5.0f} ms "
          f"({len(seconds)} decisions)")  # fmt: skip
    undo, _, state = timed_handler(dataset, "pair_review", "undo", state=state)
    print(f"undo                        {undo * 1000:7.0f} ms")
    print(f"reviews stored: {len(fr.load_reviews(dataset, KEY))}; stored pairs in the run: {len(table.pairs.score):,}")


def recut(dataset):
    import fiftyone_redundancy.api as fr

    before = fr.load_run(dataset, KEY).counts
    for threshold in (0.6, 0.55):
        started = time.perf_counter()
        run = fr.recut_run(dataset, KEY, threshold)
        print(f"re-cut at {threshold:<5}             {time.perf_counter() - started:7.2f} s  {run.counts}")
    print(f"(counts before the re-cuts: {before}; the reviews above are applied)")


def at_the_cap(n=50_000, per_item=20, seed=0):
    """The per-event core steps on the most pairs a 50,000-image run can store."""
    from fiftyone_redundancy.core.pair_score import STORED_FLOOR
    from fiftyone_redundancy.core.review import calibrate, review_order

    rng = np.random.default_rng(seed)
    count = n * per_item // 2
    scores = rng.uniform(STORED_FLOOR, 1, count)
    started = time.perf_counter()
    review_order(scores, 0.55, "uncertain", (STORED_FLOOR, 1.0))
    ordered = time.perf_counter() - started
    started = time.perf_counter()
    calibrate(scores, rng.uniform(STORED_FLOOR, 1, 500), rng.random(500) < 0.7, floor=STORED_FLOOR)
    calibrated = time.perf_counter() - started
    print(f"at the cap ({count:,} pairs): review order {ordered * 1000:.0f} ms (once per order and band), "
          f"calibration of 500 reviews {calibrated * 1000:.0f} ms (every event)")  # fmt: skip


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="use a random N of the 50,000 images")
    parser.add_argument("--reviews", type=int, default=100, help="decisions to time")
    args = parser.parse_args()
    dataset = review_dataset(args.limit)
    print(f"dataset {dataset.name!r}: {len(dataset):,} samples, run {KEY!r}")
    panel(dataset, args.reviews)
    recut(dataset)
    at_the_cap()


if __name__ == "__main__":
    main()
