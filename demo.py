"""The demo: build the embedded demo dataset, run the wavelet-cluster analysis on it, and
print what it found. ``python -m fiftyone_redundancy.demo``"""

import argparse
import os
import time

os.environ.setdefault("FIFTYONE_DO_NOT_TRACK", "true")
os.environ.setdefault("FIFTYONE_DATABASE_VALIDATION", "false")

DATASET = "redundancy-demo"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", default=DATASET, help="name of the FiftyOne dataset to (re)build")
    parser.add_argument("--images", default=None, help="folder for the demo images")
    parser.add_argument("--groups", type=int, default=8, help="how many of the largest groups to list")
    parser.add_argument("--export", default=None, help="folder for the curated export")
    args = parser.parse_args(argv)

    import fiftyone as fo

    from . import api
    from .demo_data import load_demo_dataset, score_planted

    started = time.perf_counter()
    dataset = load_demo_dataset(args.dataset, args.images, persistent=True)
    built = time.perf_counter() - started
    print(f"Built dataset {dataset.name!r}: {len(dataset)} images in {built:.1f} s "
          f"(scikit-learn digits, scikit-image photographs and lfw_subset, plus planted copies)")

    run = api.compute_wavelet_clusters(dataset, label_field="ground_truth", progress=False)
    print()
    print(run.summary())

    print("\nLargest groups (representative first):")
    sizes = run.group_sizes()
    for number in sorted(sizes, key=lambda g: (-sizes[g], g))[: args.groups]:
        view = run.group_view(number)
        names = [os.path.basename(p) for p in view.values("filepath")]
        labels = sorted(set(view.values("ground_truth.label")))
        kind = "same label" if len(labels) == 1 else "mixed labels: influential"
        print(f"  group {number:>3} ({len(names)} images, {kind} {labels}): {', '.join(names)}")

    score = score_planted(dataset, run.key)
    found, total = score["near_duplicate"]
    flagged, lookalikes = score["lookalike"]
    print(f"\nPlanted truth: {found}/{total} near-duplicate groups found whole; "
          f"{flagged}/{lookalikes} different-label look-alike pairs marked influential")
    for miss in score["misses"]:
        print(f"  missed: {', '.join(miss)}")
    unplanted = [
        number for number in sorted(sizes)
        if not {"near_duplicate", "lookalike", "leak"} & set(run.group_view(number).values("planted"))
    ]
    print(f"Groups found beyond the planted ones ({len(unplanted)}):")
    for number in unplanted:
        view = run.group_view(number)
        pairs = [f"{os.path.basename(p)} [{label}]" for p, label in zip(view.values("filepath"), view.values("ground_truth.label"))]
        print(f"  group {number:>3}: {', '.join(pairs)}")

    split = api.compute_split_similarity(dataset, label_field="ground_truth", n_least_similar=5, progress=False)
    details = split.details
    leak_found, leak_total = score_planted(dataset, split.key)["leak"]
    print(
        f"\nTrain vs test (tags 'train' / 'test', pair score): {details['n_near_identical']} of "
        f"{details['n_test']} test images ({100 * details['share_near_identical']:.1f}%) have a "
        f"near-identical training image (pair score >= {split.parameters['threshold']}); "
        f"{leak_found}/{leak_total} planted leaks are found with their training partner"
    )
    least = split.least_similar_view()
    closest = dict(zip(dataset.match_tags("test").values("id"), details["closest_similarities"]))
    print("  least similar to all training images (SSIM with the closest one): " + ", ".join(
        f"{os.path.basename(p)} ({closest[i]:.2f})" for p, i in zip(least.values("filepath"), least.values("id"))
    ))

    export_dir = args.export or os.path.join(fo.config.default_dataset_dir, f"{dataset.name}-curated")
    summary = api.export_curated(
        dataset, [run.key], export_dir, "ImageClassificationDirectoryTree",
        label_field="ground_truth", overwrite=True, progress=False,
    )  # fmt: skip
    reasons = ", ".join(f"{count} {status}" for status, count in summary["dropped_by_status"][run.key].items())
    print(
        f"\nExported the curated set (without the wavelet run's redundant and outlier samples) "
        f"to {summary['export_dir']}: {summary['kept']} kept, {summary['dropped']} dropped ({reasons}); "
        f"every dropped sample is listed in {summary['manifest']}"
    )

    print(f"\nTotal time: {time.perf_counter() - started:.1f} s")
    print(
        "\nOpen it in the App (plugin operators and panels included):\n"
        f"  .venv/bin/fiftyone app launch {dataset.name}\n"
        "then open the panels \"Redundancy\", \"Embedding map\" and \"Pair review\" (say yes or no to\n"
        "candidate pairs and calibrate the cut) with the + beside the Samples tab,\n"
        f"the saved view '{run.key}-review', or filter by wavelet_status; or in Python:\n"
        f"  session = fo.launch_app(fo.load_dataset({dataset.name!r}))\n"
        f"  session.view = fiftyone_redundancy.load_run(session.dataset, 'wavelet').groups_view()"
    )
    return 0 if found == total and flagged == lookalikes and leak_found == leak_total else 1


if __name__ == "__main__":
    raise SystemExit(main())
