"""Throughput of the pair score on CIFAR-10 (core/ only, no database) with each array
library: torch on the CPU, numpy and scipy on the CPU (what runs where torch is not
installed), and torch on a CUDA GPU where there is one; with the largest difference of
each from torch on the CPU.

    .venv/bin/python benchmarks/pair_score_speed.py [--images 50000] [--test 10000]

Stages: the two candidate descriptors of every image, the candidate search (each image's
10 nearest by each descriptor, blocked exact products), and the verification of every
candidate pair (pairs/s); then a train-vs-test split of ``--test`` images against the rest.
Reads the JPEGs straight from ../shared/data/cifar10-train-jpg.tar.gz (or --tarball).
Without torch only numpy runs.
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
    from fiftyone_redundancy.core.devices import ARRAYS_VARIABLE
    from fiftyone_redundancy.core.extras import installed
    from fiftyone_redundancy.core.pair_score import (
        DEFAULT_THRESHOLD,
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
    print(f"read {len(images)} images in {time.perf_counter() - started:.1f} s")
    setups = [("numpy", "cpu")]
    if installed("torch"):
        import torch

        print(f"torch threads {torch.get_num_threads()}")
        setups = [("torch", "cpu"), *setups] + ([("torch", "cuda")] if torch.cuda.is_available() else [])
    scores, reference_pairs = {}, None
    for library, device in setups:
        os.environ[ARRAYS_VARIABLE] = library
        parameters = PairScoreParameters(device=device)
        rows = [f"{library} on {device}" + (f" ({torch.cuda.get_device_name()})" if device == "cuda" else "")]
        started = time.perf_counter()
        descriptors = candidate_descriptors(images, device)
        rows.append(f"  descriptors: {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        pairs = within_candidates(descriptors, parameters.n_neighbors, device=device)
        rows.append(f"  candidates: {len(pairs):,} pairs in {time.perf_counter() - started:.1f} s")
        # the same pairs for every setup (ties among neighbours may differ in the last digit)
        pairs = reference_pairs = pairs if reference_pairs is None else reference_pairs
        started = time.perf_counter()
        scorer = PairScorer(images, parameters, descriptor=descriptors[0])
        prepared = time.perf_counter() - started
        started = time.perf_counter()
        scores[library, device] = scorer.score(pairs[:, 0], pairs[:, 1])
        if device == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - started
        rows.append(f"  verification: {len(pairs) / seconds:,.0f} pairs/s ({seconds:.1f} s; preparing {prepared:.1f} s)")
        started = time.perf_counter()
        split = score_across(images[: args.test], images[args.test :], parameters)
        rows.append(f"  split {args.test:,} vs {len(images) - args.test:,}: {len(split.score):,} pairs in {time.perf_counter() - started:.1f} s")
        print("\n".join(rows), flush=True)
    reference = next(iter(scores))
    for setup, values in list(scores.items())[1:]:
        difference = np.abs(values - scores[reference])
        opposite = int(((values >= DEFAULT_THRESHOLD) != (scores[reference] >= DEFAULT_THRESHOLD)).sum())
        print(f"{' on '.join(setup)} vs {' on '.join(reference)}: largest score difference {difference.max():.2e}; "
              f"pairs on opposite sides of the cut {DEFAULT_THRESHOLD}: {opposite}")  # fmt: skip

if __name__ == "__main__":
    main()
