"""How much the candidate search's axes depend on the images they are computed from
(issue 29: an update can reuse stored neighbour lists only if the search space does not
move when images are added).

    .venv/bin/python benchmarks/search_axes.py

On CIFAR-10's 50,000 training images, each image's 10 nearest others by the coarse
wavelet descriptor (``pair_score.candidate_descriptors``, 192 values) are found
unprojected, in the top 32 principal axes of all the images (what a run does), of a random
half and of a random tenth of them, and in fixed (data-independent) low-frequency DCT
bases. Prints, for each, the share of the unprojected neighbour pairs it finds, of those
with a cosine of at least 0.95 (where copies are), and of the run's own pairs.
"""

import glob
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from cifar import CACHE, ensure_extracted  # noqa: E402

NEIGHBOURS = 10
DIMENSIONS = 32
CLOSE = 0.95


def principal_axes(rows):
    centre = rows.mean(0)
    _, axes = np.linalg.eigh((rows - centre).T @ (rows - centre))
    return lambda chunk: (chunk - centre) @ axes[:, ::-1][:, :DIMENSIONS]


def dct_basis(luminance_band, chroma_band, side=8):
    """Orthonormal 2-D DCT vectors of the (side, side, 3) descriptor with u + v at most the
    band, in a luminance and two chroma directions."""
    cosines = np.array([[np.sqrt((1 if u == 0 else 2) / side) * np.cos(np.pi * (2 * x + 1) * u / (2 * side))
                         for x in range(side)] for u in range(side)])  # fmt: skip
    colours = [np.ones(3) / np.sqrt(3), np.array([1, -1, 0]) / np.sqrt(2), np.array([1, 1, -2]) / np.sqrt(6)]
    vectors = [
        np.einsum("r,c,k->rck", cosines[u], cosines[v], colour).reshape(-1)
        for colour, band in zip(colours, (luminance_band, chroma_band, chroma_band))
        for u in range(side) for v in range(side) if u + v <= band
    ]  # fmt: skip
    basis = np.stack(vectors, axis=1).astype(np.float32)
    return lambda chunk: chunk @ basis


def main():
    from fiftyone_redundancy.core.images import load_images
    from fiftyone_redundancy.core.neighbors import nearest_neighbors
    from fiftyone_redundancy.core.pair_score.descriptors import candidate_descriptors

    ensure_extracted()
    images = load_images(sorted(glob.glob(os.path.join(CACHE, "train", "*", "*"))), (32, 32), "rgb", 2)
    rows = np.ascontiguousarray(candidate_descriptors(images)[0], dtype=np.float32)
    n = len(rows)

    def pairs(space):
        neighbours = nearest_neighbors(np.ascontiguousarray(space, dtype=np.float32), NEIGHBOURS)[0]
        first, second = np.repeat(np.arange(n), neighbours.shape[1]), neighbours.reshape(-1)
        return set(zip(np.minimum(first, second).tolist(), np.maximum(first, second).tolist()))

    unprojected = pairs(rows)
    close = {pair for pair in unprojected if rows[pair[0]] @ rows[pair[1]] >= CLOSE}
    own = pairs(principal_axes(rows)(rows))
    rng = np.random.default_rng(0)
    spaces = {
        f"top {DIMENSIONS} principal axes of all {n:,} (a run's)": own,
        "... of a random half": pairs(principal_axes(rows[rng.choice(n, n // 2, replace=False)])(rows)),
        "... of a random tenth": pairs(principal_axes(rows[rng.choice(n, n // 10, replace=False)])(rows)),
    }
    for luminance_band, chroma_band in ((6, 1), (6, 2)):
        project = dct_basis(luminance_band, chroma_band)
        spaces[f"fixed DCT, u+v <= {luminance_band} (luminance), <= {chroma_band} (chroma), {project(rows[:1]).shape[1]} values"] = pairs(project(rows))
    print(f"{len(unprojected):,} unprojected neighbour pairs, {len(close):,} with a cosine >= {CLOSE}")
    print("| search space | of unprojected pairs | of those >= 0.95 | of a run's pairs |\n|---|---:|---:|---:|")
    for name, found in spaces.items():
        print(f"| {name} | {len(found & unprojected) / len(unprojected):.3f} | {len(found & close) / len(close):.3f} | {len(found & own) / len(own):.3f} |")


if __name__ == "__main__":
    main()
