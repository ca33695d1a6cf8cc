"""Throughput of the pair score on CIFAR-10 (core/ only, no database), on the CPU and, where
torch sees one, on a CUDA GPU, with the largest difference between the two.

    .venv/bin/python benchmarks/pair_score_speed.py [--images 50000] [--test 10000]

Stages: the two candidate descriptors of every image, the candidate search (each image's
10 nearest by each descriptor, blocked exact products), and the verification of every
candidate pair (pairs/s); then a train-vs-test split of ``--test`` images against the rest.
Reads the JPEGs straight from ../shared/data/cifar10-train-jpg.tar.gz (or --tarball).
"""

import argparse
import io
import os
import tarfile
import time

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
TARBALL = os.path.join(HERE, "..", "..", "shared", "data", "cifar10-train-jpg.tar.gz")


def read_cifar(tarball, count):
    images = []
    with tarfile.open(tarball) as archive:
        for member in archive:
            if member.isfile() and member.name.endswith(".jpg"):
                pixels = Image.open(io.BytesIO(archive.extractfile(member).read())).convert("RGB")
                images.append(np.asarray(pixels, dtype=np.float32) / 255)
                if len(images) == count:
                    break
    return np.stack(images)


def main():
    import torch

    from fiftyone_redundancy.core.pair_score import (
        PairScoreParameters,
        PairScorer,
        candidate_descriptors,
        score_across,
        within_candidates,
    )

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=50000)
    parser.add_argument("--test", type=int, default=10000)
    parser.add_argument("--tarball", default=TARBALL)
    args = parser.parse_args()

    started = time.perf_counter()
    images = read_cifar(args.tarball, args.images)
    print(f"read {len(images)} images in {time.perf_counter() - started:.1f} s; torch threads {torch.get_num_threads()}")
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    scores, reference_pairs = {}, None
    for device in devices:
        parameters = PairScoreParameters(device=device)
        rows = [f"device {device}" + (f" ({torch.cuda.get_device_name()})" if device == "cuda" else "")]
        started = time.perf_counter()
        descriptors = candidate_descriptors(images, device)
        rows.append(f"  descriptors: {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        pairs = within_candidates(descriptors, parameters.n_neighbors, device=device)
        rows.append(f"  candidates: {len(pairs):,} pairs in {time.perf_counter() - started:.1f} s")
        # the same pairs on every device (ties among neighbours may differ in the last digit)
        pairs = reference_pairs = pairs if reference_pairs is None else reference_pairs
        started = time.perf_counter()
        scorer = PairScorer(images, parameters, descriptor=descriptors[0])
        prepared = time.perf_counter() - started
        started = time.perf_counter()
        scores[device] = scorer.score(pairs[:, 0], pairs[:, 1])
        if device == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - started
        rows.append(f"  verification: {len(pairs) / seconds:,.0f} pairs/s ({seconds:.1f} s; preparing {prepared:.1f} s)")
        started = time.perf_counter()
        split = score_across(images[: args.test], images[args.test :], parameters)
        rows.append(f"  split {args.test:,} vs {len(images) - args.test:,}: {len(split.score):,} pairs in {time.perf_counter() - started:.1f} s")
        print("\n".join(rows), flush=True)
    if len(scores) == 2:
        difference = np.abs(scores["cpu"] - scores["cuda"])
        print(f"GPU vs CPU: largest score difference {difference.max():.2e}; pairs on opposite sides of 0.55: {int(((scores['cpu'] >= 0.55) != (scores['cuda'] >= 0.55)).sum())}")


if __name__ == "__main__":
    main()
