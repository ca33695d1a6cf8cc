"""Train-vs-test similarity (the leakage study of Yousefzadeh 2020, section 4): for every
test image, its most similar training image by the pair score; which test images have a
near-identical training image, and which are far from everything in training."""

from dataclasses import dataclass, field

import numpy as np

from .decisions import OUTLIER, REDUNDANT, REPRESENTATIVE, UNIQUE, Decisions
from .families import Identities, find_identities
from .pair_score import (
    KnownRows,
    PairScoreParameters,
    ScoredPairs,
    declared_threshold,
    pair_score_parameters,
    require_threshold,
    score_across,
    verify_across,
)
from .parameters import check_declared, declared, declared_choice

MODES = {
    "auto": "Automatic",
    "exhaustive": "Every test image against every training image",
    "candidates": "Against each test image's nearest training images (large sets)",
}
"""The ways of choosing the pairs to score, in the words the forms offer them."""


@dataclass
class SplitParameters:
    """Parameters of the train-vs-test analysis, validated in one place."""

    threshold: float = declared_threshold("Near-identical pair score")
    """A test image whose best pair score with a training image reaches this has a
    near-identical training image (a leak)."""
    n_least_similar: int = declared(10, "How many least-similar test samples to flag", integer=True, at_least=0)
    mode: str = declared_choice("auto", MODES, "Comparison")
    """"exhaustive": every test image with every training image; "candidates": with its
    nearest training images by each descriptor; "auto": exhaustive up to
    ``max_exhaustive_pairs`` pairs."""
    max_exhaustive_pairs: int = declared(200_000, "Most pairs compared exhaustively", integer=True, at_least=0,
                                         offered=False)  # fmt: skip
    pair_score: PairScoreParameters = field(default_factory=PairScoreParameters)

    def __post_init__(self):
        check_declared(self)
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
    """The scored (test, train) pairs the run keeps (``ScoredPairs.stored``)."""
    closest_raw: np.ndarray
    """Each test image's highest raw verified similarity with a training image."""
    identities: Identities = None
    """Identical and constant images over the test images followed by the training ones:
    a test image identical to a training image leaks with score 1, whatever the pair score."""

    def pairs_test_first(self):
        """The scored pairs as indices into the test images followed by the training
        images: the order a split run stores its samples in, as every run stores its pairs."""
        n_test = len(self.best_match)
        return ScoredPairs(self.pairs.first, self.pairs.second + n_test, self.pairs.score)


def split_similarity(train_images, test_images, parameters=None, train_groups=None,
                     test_groups=None, train_embeddings=None, test_embeddings=None, progress=None,
                     search=None, executor=None, known=None):  # fmt: skip
    """Pair scores of each test image with the training images (``progress(done, total)``
    follows the pair scoring).

    Identical pictures are found first (``families.find_identities`` over both splits): a
    test image identical to a training image (or of one colour with a blank training image
    of that colour) leaks with score 1; the pair score compares one image per picture on
    each side, and identical test images share their picture's answer. With
    ``train_groups``/``test_groups`` (e.g. class labels) a test image is compared only
    with training images of its group. Embeddings (one row per image) add candidates and a
    fused signal, as everywhere in the pair score. ``search`` finds the candidates of
    ``mode="candidates"`` (``pair_score.cross_candidates``); ``executor``
    (``parallel.RayExecutor``) verifies the pairs as Ray tasks, with the same scores.
    ``known`` (``known_pairs.KnownScores`` over the test images followed by the training
    images, an update's): the evidence of the pairs an earlier run verified is looked
    up, the others verified, each recorded (``pair_score.reusing_verifier``). A pair's
    evidence depends on its two images alone, in either mode, so a lookup gives what
    verifying again would.
    """
    parameters = parameters or SplitParameters()
    n_train, n_test = len(train_images), len(test_images)
    if n_train == 0 or n_test == 0:
        raise ValueError(f"need training and test images, got {n_train} and {n_test}")
    identities = find_identities(test_images, train_images)
    canonical, constant = identities.canonical, identities.constant
    groups = None if test_groups is None else [*test_groups, *train_groups]
    match = _first_training_match(canonical, n_test, groups)
    exact = match[:n_test] >= 0
    queries = np.flatnonzero((canonical[:n_test] == np.arange(n_test)) & ~constant[:n_test] & ~exact)
    trains = np.flatnonzero((match[n_test:] == np.arange(n_train)) & ~constant[n_test:])
    mode = parameters.mode
    if mode == "auto":
        mode = "exhaustive" if len(queries) * len(trains) <= parameters.max_exhaustive_pairs else "candidates"
    if len(queries) and len(trains):
        sides = (_rows(test_images, queries), _rows(train_images, trains), parameters.pair_score,
                 _rows(test_embeddings, queries), _rows(train_embeddings, trains),
                 _rows(test_groups, queries), _rows(train_groups, trains))  # fmt: skip
        known_rows = None if known is None else KnownRows(known, queries, n_test + trains)
        if mode == "candidates":
            local = score_across(*sides, progress, search and _searched_among(search, trains), executor, known_rows)
        else:
            local = _score_exhaustive(*sides, progress, executor, known_rows)
        pairs = ScoredPairs(queries[local.first], trains[local.second], local.score, local.raw)
    else:
        pairs = ScoredPairs(np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64), np.empty(0), np.empty(0))

    best_match = np.full(n_test, -1, dtype=np.int64)
    best_similarity = np.full(n_test, -np.inf)
    # the best match by score; among equal scores (e.g. all 0), the most alike by raw similarity
    order = np.lexsort((-pairs.raw, -pairs.score, pairs.first))
    winners = order[np.unique(pairs.first[order], return_index=True)[1]]
    best_match[pairs.first[winners]] = pairs.second[winners]
    best_similarity[pairs.first[winners]] = pairs.score[winners]
    closest_raw = np.full(n_test, -np.inf)
    np.maximum.at(closest_raw, pairs.first, pairs.raw)
    # identical test images share their picture's answer; identical to training: score 1
    leader = canonical[:n_test]
    best_match, best_similarity, closest_raw = best_match[leader], best_similarity[leader], closest_raw[leader]
    best_match[exact] = match[:n_test][exact]
    best_similarity[exact] = closest_raw[exact] = 1.0
    # least similar: by the raw similarity of the closest training image (the score is 0
    # for every pair that is no copy, so it cannot rank how far an image is)
    ranked = np.argsort(closest_raw, kind="stable")
    return SplitSimilarity(
        best_match,
        best_similarity,
        best_similarity >= parameters.threshold,
        ranked[: min(parameters.n_least_similar, n_test)],
        mode,
        pairs.stored(),
        closest_raw,
        identities,
    )


def _first_training_match(canonical, n_test, groups=None):
    """For each image (test images first), the first training image identical to it (an
    index into the training images; in its group, with ``groups``), -1 where none is."""
    first = {}
    keys = canonical.tolist() if groups is None else list(zip(canonical.tolist(), map(str, groups)))
    for row in range(len(canonical) - 1, n_test - 1, -1):  # the earliest training image wins
        first[keys[row]] = row - n_test
    return np.array([first.get(key, -1) for key in keys], dtype=np.int64)


def _rows(values, rows):
    """The rows ``rows`` of an array, list or None."""
    if values is None:
        return None
    return np.asarray(values, dtype=object)[rows] if isinstance(values, list) else np.asarray(values)[rows]


def _searched_among(search, trains):
    """A candidate search over all training images, asked about the subset ``trains``:
    ``search(queries, members, rows, k)`` answers positions in ``members``."""

    def searched(queries, members, rows, k):
        return search(queries, trains[members], rows, k)

    return searched


def _score_exhaustive(test_images, train_images, pair_score, test_embeddings, train_embeddings,
                      test_groups, train_groups, progress, executor=None, known=None):  # fmt: skip
    test_groups = np.zeros(len(test_images), dtype=object) if test_groups is None else np.asarray(test_groups, dtype=object)
    train_groups = np.zeros(len(train_images), dtype=object) if train_groups is None else np.asarray(train_groups, dtype=object)
    tests, trains = np.nonzero(test_groups[:, None] == train_groups[None, :])
    pairs = np.stack([tests, trains], axis=1)
    scores, raw = verify_across(
        pair_score, pairs, (test_images, test_embeddings), (train_images, train_embeddings), progress, executor, known
    )
    return ScoredPairs(tests, trains, scores, raw)


def split_decisions_at(best_match, best_similarity, least_similar, threshold, n_train, pairs=None, identities=None):
    """``split_decisions`` of a stored split at another ``threshold``: each test image's
    best match and score, the least similar ones, the stored pairs (test first) and the
    identities do not depend on the cut, so a re-cut needs only them and equals a fresh
    run at ``threshold``."""
    require_threshold(threshold)
    best_similarity = np.asarray(best_similarity, dtype=np.float64)
    result = SplitSimilarity(
        np.asarray(best_match, dtype=np.int64), best_similarity, best_similarity >= threshold,
        np.asarray(least_similar, dtype=np.int64), mode=None, pairs=None, closest_raw=None, identities=identities,
    )  # fmt: skip
    return split_decisions(result, n_train, pairs, threshold)


def split_decisions(result, n_train, pairs=None, threshold=None):
    """Contract fields for test samples (first) then training samples: a leaked test
    image is ``redundant`` with its training match as ``representative``; the least
    similar test images are ``outlier``. A family that spans the split is one group: the
    leaked test images, the training images they reach at ``threshold`` (``pairs``, test
    first, as ``SplitSimilarity.pairs_test_first``), and the images identical to any of
    them (``result.identities``); its training images are ``representative``. Groups are
    numbered largest first."""
    n_test = len(result.best_match)
    n = n_test + n_train
    status = np.full(n, UNIQUE, dtype=object)
    representative = np.full(n, -1, dtype=np.int64)
    score = np.zeros(n)
    score[:n_test] = np.where(np.isfinite(result.best_similarity), result.best_similarity, 0)
    status[result.least_similar] = OUTLIER
    leaked = np.flatnonzero(result.near_identical)
    partners = n_test + result.best_match[leaked]
    status[leaked] = REDUNDANT
    representative[leaked] = partners
    links = [np.stack([leaked, partners], axis=1)]
    if pairs is not None:
        reach = (pairs.score >= threshold) & np.isin(pairs.first, leaked)
        links.append(np.stack([pairs.first[reach], pairs.second[reach]], axis=1))
    if result.identities is not None:
        links.append(np.stack([np.arange(n), result.identities.canonical], axis=1))
    group = _leak_groups(n, np.concatenate(links), leaked)
    status[n_test:][group[n_test:] >= 0] = REPRESENTATIVE
    return Decisions(status, group, representative, score)


def _leak_groups(n, links, leaked):
    """Group number per image (-1: none) of the connected components of ``links`` that
    hold a leaked test image, largest first (ties by first member)."""
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components

    graph = sp.coo_matrix((np.ones(len(links)), (links[:, 0], links[:, 1])), shape=(n, n))
    _, component = connected_components(graph, directed=False)
    leaking = np.unique(component[leaked])
    members = np.flatnonzero(np.isin(component, leaking))
    sizes = np.bincount(component[members], minlength=len(component))
    first = np.full(len(sizes), n)
    np.minimum.at(first, component[members], members)
    ranked = sorted(leaking.tolist(), key=lambda c: (-sizes[c], first[c]))
    number = np.full(len(sizes), -1, dtype=np.int64)
    number[ranked] = np.arange(len(ranked))
    group = np.full(n, -1, dtype=np.int64)
    group[members] = number[component[members]]
    return group
