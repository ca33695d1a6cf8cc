"""Feature-map analysis at CIFAR scale.

    .venv/bin/python benchmarks/features_cifar.py [--limit N] [--device cpu|cuda]

Extracts torchvision resnet18 features (random weights: the speed is what is measured)
at the ``avgpool`` layer for the 50,000 CIFAR-10 training images through FiftyOne, then
times the reduction, HDBSCAN and clustering stages, and prints images/s.
"""

import argparse
import os
import resource
import tempfile
import time

import torch
import torchvision
from cifar import load_cifar


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--device", default=None)
    parser.add_argument("--num-workers", type=int, default=2)
    args = parser.parse_args()

    import fiftyone_redundancy.api as fr

    dataset = load_cifar(args.limit)
    torch.manual_seed(0)
    path = os.path.join(tempfile.mkdtemp(), "resnet18.pt")
    torch.save(torchvision.models.resnet18(weights=None, num_classes=10), path)
    if "features" in fr.list_runs(dataset):
        fr.delete_run(dataset, "features")
    started = time.perf_counter()
    run = fr.compute_feature_clusters(
        dataset, model_path=path, layer="avgpool", label_field="ground_truth", key="features",
        batch_size=256, num_workers=args.num_workers, device=args.device, progress=False,
    )  # fmt: skip
    wall = time.perf_counter() - started
    print(run.summary())
    timings = run.timings
    print(f"\n{'measure':<40}{'value':>12}")
    print(f"{'images':<40}{len(dataset):>12}")
    print(f"{'extraction images/s (' + (args.device or 'auto') + ')':<40}{len(dataset) / timings['extraction']:>12.0f}")
    for stage in ("extraction", "reduction", "outliers", "clustering", "decisions", "projection", "write"):
        print(f"{stage + ' (s)':<40}{timings[stage]:>12.2f}")
    print(f"{'end to end (s)':<40}{wall:>12.2f}")
    print(f"{'peak memory (GiB, RSS)':<40}{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:>12.2f}")


if __name__ == "__main__":
    main()
