"""Train-vs-test similarity (the leakage study of Yousefzadeh 2020, section 4): for every
test image, its most similar training image by the pair score; which test images have a
near-identical training image, and which are far from everything in training."""

from dataclasses import dataclass, field

import numpy as np

from .decisions import OUTLIER, REDUNDANT, REPRESENTATIVE, UNIQUE, Decisions
from .pair_score import (
    DEFAULT_THRESHOLD,
    PairScoreParameters,
    PairScorer,
    ScoredPairs,
    pair_score_parameters,
    require_threshold,
    score_across,
    verify_sharded_across,
)
from .parameters import check_choice, check_number

MODES = {
    "auto": "Automatic",
    "exhaustive": "Every test image against every training image",
    "candidates": "Against each test image's nearest training images (large sets)",
}
"""The ways of choosing the pairs to score, in the words the forms offer them."""


@dataclass
class SplitParameters:
    """Parameters of the train-vs-test analysis, validated in one place."""

    threshold: float = DEFAULT_THRESHOLD
    """A test image whose best pair score with a training image reaches this has a
    near-identical training image (a leak)."""
    n_least_similar: int = 10
    mode: str = "auto"
    """"exhaustive": every test image with every training image; "candidates": with its
    nearest training images by each descriptor; "auto": exhaustive up to
    ``max_exhaustive_pairs`` pairs."""
    max_exhaustive_pairs: int = 200_000
    pair_score: PairScoreParameters = field(default_factory=PairScoreParameters)

    def __post_init__(self):
        require_threshold(self.threshold)
        check_choice("mode", self.mode, MODES)
        self.n_least_similar = check_number("n_least_similar", self.n_least_similar, integer=True, at_least=0)
        self.max_exhaustive_pairs = check_number("max_exhaustive_pairs", self.max_exhaustive_pairs, integer=True, at_least=0)
        self.pair_score = pair_score_parameters(self.pair_score)


@dataclass
class SplitSimilarity:
    best_match: np.ndarray
    """Index into the training images of each test image's most similar one (-1: none)."""
    best_similarity: np.ndarray
    near_identical: np.ndarray
    least_similar: np.ndarray
    """Indices of the test images least similar to all training images, least first."""
    mode: str
    pairs: ScoredPairs
    """The scored (test, train) pairs the run keeps (``ScoredPairs.bounded``)."""
    closest_raw: np.ndarray
    """Each test image's highest raw verified similarity with a training image."""

    def pairs_test_first(self):
        """The scored pairs as indices into the test images followed by the training
        images: the order a split run stores its samples in, as every run stores its pairs."""
        n_test = len(self.best_match)
        return ScoredPairs(self.pairs.first, self.pairs.second + n_test, self.pairs.score)


def split_similarity(train_images, test_images, parameters=None, train_groups=None,
                     test_groups=None, train_embeddings=None, test_embeddings=None, progress=None,
                     search=None, executor=None):  # fmt: skip
    """Pair scores of each test image with the training images (``progress(done, total)``
    follows the pair scoring).

    With ``train_groups``/``test_groups`` (e.g. class labels) a test image is compared only
    with training images of its group. Embeddings (one row per image) add candidates and a
    fused signal, as everywhere in the pair score. ``search`` finds the candidates of
    ``mode="candidates"`` (``pair_score.cross_candidates``); ``executor``
    (``parallel.RayExecutor``) verifies the pairs as Ray tasks, with the same scores.
    """
    parameters = parameters or SplitParameters()
    n_train, n_test = len(train_images), len(test_images)
    if n_train == 0 or n_test == 0:
        raise ValueError(f"need training and test images, got {n_train} and {n_test}")
    mode = parameters.mode
    if mode == "auto":
        mode = "exhaustive" if n_train * n_test <= parameters.max_exhaustive_pairs else "candidates"
    if mode == "candidates":
        pairs = score_across(
            test_images, train_images, parameters.pair_score, test_embeddings, train_embeddings,
            test_groups, train_groups, progress, search, executor,
        )  # fmt: skip
    else:
        pairs = _score_exhaustive(test_images, train_images, parameters.pair_score, test_embeddings,
                                  train_embeddings, test_groups, train_groups, progress, executor)  # fmt: skip

    best_match = np.full(n_test, -1, dtype=np.int64)
    best_similarity = np.full(n_test, -np.inf)
    # the best match by score; among equal scores (e.g. all 0), the most alike by raw similarity
    order = np.lexsort((-pairs.raw, -pairs.score, pairs.first))
    winners = order[np.unique(pairs.first[order], return_index=True)[1]]
    best_match[pairs.first[winners]] = pairs.second[winners]
    best_similarity[pairs.first[winners]] = pairs.score[winners]
    closest_raw = np.full(n_test, -np.inf)
    np.maximum.at(closest_raw, pairs.first, pairs.raw)
    # least similar: by the raw similarity of the closest training image (the score is 0
    # for every pair that is no copy, so it cannot rank how far an image is)
    ranked = np.argsort(closest_raw, kind="stable")
    return SplitSimilarity(
        best_match,
        best_similarity,
        best_similarity >= parameters.threshold,
        ranked[: min(parameters.n_least_similar, n_test)],
        mode,
        pairs.bounded(max(n_test, n_train)),
        closest_raw,
    )


def _score_exhaustive(test_images, train_images, pair_score, test_embeddings, train_embeddings,
                      test_groups, train_groups, progress, executor=None):  # fmt: skip
    test_groups = np.zeros(len(test_images), dtype=object) if test_groups is None else np.asarray(test_groups, dtype=object)
    train_groups = np.zeros(len(train_images), dtype=object) if train_groups is None else np.asarray(train_groups, dtype=object)
    tests, trains = np.nonzero(test_groups[:, None] == train_groups[None, :])
    if executor is not None:
        scores, raw = verify_sharded_across(
            executor, test_images, train_images, pair_score, test_embeddings, train_embeddings,
            None, None, np.stack([tests, trains], axis=1), progress,
        )  # fmt: skip
        return ScoredPairs(tests, trains, scores, raw)
    test_scorer = PairScorer(test_images, pair_score, test_embeddings)
    train_scorer = PairScorer(train_images, pair_score, train_embeddings)
    return ScoredPairs(tests, trains, *test_scorer.score_and_raw(tests, trains, train_scorer, progress))


def split_decisions_at(best_match, best_similarity, least_similar, threshold, n_train):
    """``split_decisions`` of a stored split at another ``threshold``: each test image's
    best match and score, and the least similar ones, do not depend on the cut, so a
    re-cut needs only them and equals a fresh run at ``threshold``."""
    require_threshold(threshold)
    best_similarity = np.asarray(best_similarity, dtype=np.float64)
    result = SplitSimilarity(
        np.asarray(best_match, dtype=np.int64), best_similarity, best_similarity >= threshold,
        np.asarray(least_similar, dtype=np.int64), mode=None, pairs=None, closest_raw=None,
    )  # fmt: skip
    return split_decisions(result, n_train)


def split_decisions(result, n_train):
    """Contract fields for test samples (first) then training samples: a leaked test
    image is ``redundant`` with its training match as ``representative``; the least
    similar test images are ``outlier``."""
    n_test = len(result.best_match)
    status = np.full(n_test + n_train, UNIQUE, dtype=object)
    group = np.full(n_test + n_train, -1, dtype=np.int64)
    representative = np.full(n_test + n_train, -1, dtype=np.int64)
    score = np.zeros(n_test + n_train)
    score[:n_test] = np.where(np.isfinite(result.best_similarity), result.best_similarity, 0)
    status[result.least_similar] = OUTLIER
    leaked = np.flatnonzero(result.near_identical)
    partners = result.best_match[leaked]
    numbers = {partner: number for number, partner in enumerate(dict.fromkeys(partners))}
    for test_index, partner in zip(leaked, partners):
        status[test_index] = REDUNDANT
        representative[test_index] = n_test + partner
        group[test_index] = group[n_test + partner] = numbers[partner]
        status[n_test + partner] = REPRESENTATIVE
    return Decisions(status, group, representative, score)
