"""Feature-map analysis at CIFAR scale.

    .venv/bin/python benchmarks/features_cifar.py [--limit N] [--device cpu|cuda]
        [--num-workers W] [--throughput N] [--write-back] [--stages N] [--skip-run]

Extracts torchvision resnet18 features (random weights: the speed is what is measured)
at the ``avgpool`` layer for the 50,000 CIFAR-10 training images through FiftyOne, then
times the reduction, HDBSCAN and clustering stages and the write-back, and prints
images/s. ``--throughput N`` times extraction alone on N images at 32 and at 224 px;
``--write-back`` times four ``set_values`` calls against the bulk writes the runs use, on
a scratch dataset of as many samples; ``--stages N`` times the outlier scores and the
clustering alone on N x 50 synthetic features (with CPU seconds: the load of other
processes inflates wall time).
"""

import argparse
import os
import resource
import tempfile
import time

import numpy as np
import torch
import torchvision
from cifar import load_cifar

from fiftyone_redundancy.bridge.features import IMAGENET_MEAN, IMAGENET_STD


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--device", default=None)
    parser.add_argument("--num-workers", type=int, default=None, help="default: from the CPU count")
    parser.add_argument("--throughput", type=int, default=0, metavar="N")
    parser.add_argument("--write-back", action="store_true")
    parser.add_argument("--stages", type=int, default=0, metavar="N")
    parser.add_argument("--skip-run", action="store_true")
    args = parser.parse_args()

    dataset = load_cifar(args.limit)
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None, num_classes=10)
    print(f"load average at the start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    if args.throughput:
        throughput(model, dataset.take(args.throughput, seed=0).values("filepath"), args)
    if args.write_back:
        write_back(len(dataset))
    if args.stages:
        stages(args.stages, args.device)
    if not args.skip_run:
        run(model, dataset, args)


def run(model, dataset, args):
    import fiftyone_redundancy.api as fr

    path = os.path.join(tempfile.mkdtemp(), "resnet18.pt")
    torch.save(model, path)
    if "features" in fr.list_runs(dataset):
        fr.delete_run(dataset, "features")
    started = time.perf_counter()
    run = fr.compute_feature_clusters(
        dataset, model_path=path, trust_model_file=True, layer="avgpool", label_field="ground_truth", key="features",
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
    used = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    print(f"{'CPU seconds, loader workers included':<40}{sum(u.ru_utime + u.ru_stime for u in used):>12.1f}")
    print(f"{'peak memory (GiB, RSS)':<40}{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:>12.2f}")
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")


def throughput(model, paths, args):
    from fiftyone_redundancy.core.features import ImageFiles, extract_features, loader_workers
    from fiftyone_redundancy.core.devices import resolve_device

    workers = loader_workers(resolve_device(args.device)) if args.num_workers is None else args.num_workers
    for size in (32, 224):
        files = ImageFiles(paths, (size, size), "rgb", IMAGENET_MEAN, IMAGENET_STD)
        started = time.perf_counter()
        extract_features(model, "avgpool", files, batch_size=256 if size == 32 else 64,
                         num_workers=workers, device=args.device)  # fmt: skip
        seconds = time.perf_counter() - started
        print(f"extraction at {size} px, {len(paths)} images, {workers} workers: {len(paths) / seconds:.0f} images/s")


def stages(count, device):
    """HDBSCAN outlier scores and the clustering of the default shares on ``count`` rows
    of 50 dimensions: 2,000 Gaussian clusters of uneven spread, 1% scattered outliers."""
    from fiftyone_redundancy.core.linkage import average_linkage_clusters
    from fiftyone_redundancy.core.outliers import outlier_scores

    rng = np.random.default_rng(0)
    centres = rng.standard_normal((2000, 50)) * 3
    members = rng.integers(0, 2000, count)
    points = centres[members] + rng.standard_normal((count, 50)) * rng.uniform(0.2, 1.5, (count, 1))
    points[: count // 100] = rng.standard_normal((count // 100, 50)) * 12
    for name, work in (
        ("HDBSCAN outlier scores", lambda: outlier_scores(points, 5, device=device)),
        ("clustering (89% kept)", lambda: average_linkage_clusters(points[count // 100 :], int(0.89 * count), 15, device)),
    ):
        wall, cpu = time.perf_counter(), time.process_time()
        work()
        print(f"{name}, {count} x 50: {time.perf_counter() - wall:.2f} s wall, {time.process_time() - cpu:.2f} CPU s, "
              f"load {os.getloadavg()[0]:.2f}")  # fmt: skip


def write_back(count):
    """Four fields of ``count`` samples: one ``set_values`` per field, then one bulk
    update per sample (``runs.write_columns``)."""
    import fiftyone as fo

    from fiftyone_redundancy.bridge.runs import FIELD_TYPES, write_columns

    scratch = fo.Dataset()
    scratch.add_samples([fo.Sample(filepath=f"/scratch/{i}.jpg") for i in range(count)], progress=False)
    ids = scratch.values("id")
    rng = np.random.default_rng(0)
    columns = {
        "status": [str(s) for s in rng.choice(["unique", "redundant"], count)],
        "group": [int(g) for g in rng.integers(-1, 100, count)],
        "representative": [ids[i] if i % 3 else None for i in range(count)],
        "score": [float(x) for x in rng.random(count)],
    }
    try:
        for way in ("set_values", "bulk"):
            for suffix, field_type in FIELD_TYPES.items():
                scratch.add_sample_field(f"{way}_{suffix}", field_type)
            started = time.perf_counter()
            if way == "set_values":
                for suffix in FIELD_TYPES:
                    scratch.set_values(f"{way}_{suffix}", dict(zip(ids, columns[suffix])), key_field="id")
            else:
                write_columns(scratch, ids, {f"{way}_{suffix}": columns[suffix] for suffix in FIELD_TYPES})
            print(f"write-back of 4 fields x {count} samples, {way}: {time.perf_counter() - started:.2f} s")
        assert scratch.values("bulk_representative") == scratch.values("set_values_representative")
    finally:
        scratch.delete()


if __name__ == "__main__":
    main()
