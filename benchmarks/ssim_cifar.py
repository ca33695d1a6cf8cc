"""SSIM-spectral and train-vs-test similarity at CIFAR scale.

    .venv/bin/python benchmarks/ssim_cifar.py [--skip-dense]

Prints: SSIM throughput (pairs/s) of the batched CPU implementation beside a Python loop
over skimage in the same run, and of the aligned pair score; the dense analysis of 1,000
images (every pair); the sparse analysis of
all 50,000 CIFAR-10 training images; and a 10,000 (test) vs 40,000 (train) split, each end
to end through FiftyOne.
"""

import argparse
import resource
import time

import numpy as np
from cifar import load_cifar


def ssim_throughput(images, n_reference=500, n_ours=200_000, n_aligned=50_000):
    from skimage.metrics import structural_similarity

    from fiftyone_redundancy.core.pair_score import PairScorer
    from fiftyone_redundancy.core.ssim import SSIMIndex

    rng = np.random.default_rng(0)
    first = rng.integers(0, len(images), n_ours)
    second = rng.integers(0, len(images), n_ours)
    started = time.perf_counter()
    for i, j in zip(first[:n_reference], second[:n_reference]):
        structural_similarity(images[i], images[j], channel_axis=-1, gaussian_weights=True,
                              sigma=1.5, use_sample_covariance=False, data_range=1.0)  # fmt: skip
    reference = n_reference / (time.perf_counter() - started)
    index = SSIMIndex(images)
    started = time.perf_counter()
    index.pairs(first, second)
    ours = n_ours / (time.perf_counter() - started)
    scorer = PairScorer(images)
    started = time.perf_counter()
    scorer.score(first[:n_aligned], second[:n_aligned])
    aligned = n_aligned / (time.perf_counter() - started)
    return reference, ours, aligned


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-dense", action="store_true", help="skip the dense 1,000-image run")
    parser.add_argument("--skip-sparse", action="store_true", help="skip the sparse 50,000-image run")
    args = parser.parse_args()

    import fiftyone_redundancy.api as fr
    from fiftyone_redundancy.bridge.samples import decode_images

    dataset = load_cifar()
    rows = []
    sample = dataset.take(2000, seed=0)
    reference, ours, aligned = ssim_throughput(decode_images(sample, (32, 32), "rgb", progress=False))
    rows.append(("SSIM pairs/s, skimage loop", reference))
    rows.append(("SSIM pairs/s, batched (torch CPU)", ours))
    rows.append(("speed-up", ours / reference))
    rows.append(("pair score pairs/s (aligned, torch CPU)", aligned))

    def timed(label, function):
        started = time.perf_counter()
        run = function()
        rows.append((label, time.perf_counter() - started))
        print(f"{label}: {run.summary()}")
        return run

    if not args.skip_dense:
        subset = dataset.take(1000, seed=1)
        run = timed("dense analysis, 1,000 images (s)", lambda: fr.compute_ssim_clusters(
            subset, label_field="ground_truth", key="ssim_dense", mode="dense", progress=False, overwrite=True))
        rows.append(("  of which pair scores (s)", run.timings["pair_scores"]))
        rows.append(("  of which spectrum (s)", run.timings["spectrum"]))

    if not args.skip_sparse:
        run = timed("sparse SSIM analysis, 50,000 images (s)", lambda: fr.compute_ssim_clusters(
            dataset, label_field="ground_truth", key="ssim_sparse", mode="sparse", progress=False, overwrite=True))
        for stage in ("decode", "pair_scores", "spectrum", "grouping", "write"):
            rows.append((f"  of which {stage} (s)", run.timings[stage]))

    test_ids = dataset.take(10000, seed=2).values("id")
    dataset.untag_samples(["train", "test"])
    dataset.select(test_ids).tag_samples("test")
    dataset.exclude(test_ids).tag_samples("train")
    split = timed("split 10,000 test vs 40,000 train (s)", lambda: fr.compute_split_similarity(
        dataset, label_field="ground_truth", key="split", progress=False, overwrite=True))
    details = split.details
    rows.append(("  comparison mode", details["mode_used"]))
    rows.append(("  near-identical test share (%)", 100 * details["share_near_identical"]))
    for stage, seconds in split.timings.items():
        rows.append((f"  of which {stage} (s)", seconds))

    print(f"\n{'measure':<44}{'value':>12}")
    for label, value in rows:
        shown = f"{value:>12.2f}" if isinstance(value, float) else f"{value:>12}"
        print(f"{label:<44}{shown}")
    print(f"{'peak memory (GiB, RSS)':<44}{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:>12.2f}")


if __name__ == "__main__":
    main()
