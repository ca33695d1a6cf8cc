"""Train-vs-test similarity (the leakage study of Yousefzadeh 2020, section 4): for every
test image, its most similar training image by SSIM; which test images have a
near-identical training image, and which are far from everything in training."""

from dataclasses import dataclass

import numpy as np

from .ssim import SSIMIndex
from .wavelet_analysis import coarse_coefficients

MODES = ("auto", "exhaustive", "candidates")


@dataclass
class SplitSimilarity:
    best_match: np.ndarray
    """Index into the training images of each test image's most similar one (-1: none)."""
    best_similarity: np.ndarray
    near_identical: np.ndarray
    least_similar: np.ndarray
    """Indices of the test images least similar to all training images, least first."""
    mode: str
    n_pairs: int


def split_similarity(train_images, test_images, threshold=0.9, n_least_similar=10,
                     mode="auto", n_neighbors=10, max_exhaustive_pairs=5_000_000,
                     train_groups=None, test_groups=None, device=None):  # fmt: skip
    """SSIM of each test image with the training images.

    ``mode="exhaustive"`` compares every test image with every training image (no n x n
    matrix is kept: only each test image's best); ``"candidates"`` compares it with its
    ``n_neighbors`` nearest training images by coarse wavelet coefficients; ``"auto"`` is
    exhaustive up to ``max_exhaustive_pairs`` pairs. With ``train_groups``/``test_groups``
    (e.g. class labels) a test image is compared only with training images of its group.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    n_train, n_test = len(train_images), len(test_images)
    if n_train == 0 or n_test == 0:
        raise ValueError(f"need training and test images, got {n_train} and {n_test}")
    train_groups = np.zeros(n_train, dtype=object) if train_groups is None else np.asarray(train_groups, dtype=object)
    test_groups = np.zeros(n_test, dtype=object) if test_groups is None else np.asarray(test_groups, dtype=object)
    if mode == "auto":
        mode = "exhaustive" if n_train * n_test <= max_exhaustive_pairs else "candidates"

    train_index = SSIMIndex(train_images, device=device)
    test_index = SSIMIndex(test_images, device=device)
    if mode == "candidates":
        train_features = coarse_coefficients(train_images, device)
        test_features = coarse_coefficients(test_images, device)

    best_match = np.full(n_test, -1, dtype=np.int64)
    best_similarity = np.full(n_test, -np.inf)
    n_pairs = 0
    for group in np.unique(test_groups):
        tests = np.flatnonzero(test_groups == group)
        trains = np.flatnonzero(train_groups == group)
        if len(trains) == 0:
            continue
        if mode == "exhaustive":
            test_ids, train_ids = np.repeat(tests, len(trains)), np.tile(trains, len(tests))
        else:
            test_ids, train_ids = _nearest_training(
                test_features[tests], train_features[trains], n_neighbors
            )
            test_ids, train_ids = tests[test_ids], trains[train_ids]
        values = test_index.pairs(test_ids, train_ids, other=train_index)
        n_pairs += len(values)
        # keep each test image's best training match
        order = np.lexsort((-values, test_ids))
        first = np.unique(test_ids[order], return_index=True)[1]
        winners = order[first]
        best_match[test_ids[winners]] = train_ids[winners]
        best_similarity[test_ids[winners]] = values[winners]

    ranked = np.argsort(best_similarity, kind="stable")
    return SplitSimilarity(
        best_match,
        best_similarity,
        best_similarity >= threshold,
        ranked[: min(n_least_similar, n_test)],
        mode,
        n_pairs,
    )


def _nearest_training(test_features, train_features, n_neighbors):
    from sklearn.neighbors import NearestNeighbors

    count = min(n_neighbors, len(train_features))
    model = NearestNeighbors(n_neighbors=count, algorithm="brute").fit(train_features)
    _, neighbours = model.kneighbors(test_features)
    return np.repeat(np.arange(len(test_features)), count), neighbours.reshape(-1)
