"""Algorithm 2 of Yousefzadeh (2020) on an image batch: the pair score between images (all
pairs, or candidate pairs; SSIM aligned for shifts, zooms and colour by default, skimage's
plain SSIM on request), the Laplacian spectrum, the number of clusters, spectral
clustering or the threshold mode, and the decision rule."""

from dataclasses import dataclass, field

import numpy as np

from .decisions import Decisions, decide
from .families import Identities, find_identities
from .grouping import decide_on_pairs, picture_centrality, score_matrix
from .pair_score import (
    KnownRows,
    PairScoreParameters,
    PairScorer,
    declared_threshold,
    pair_score_parameters,
    ScoredPairs,
    reusing_verifier,
    score_within,
    shard_side,
    verify_sharded,
)
from .parameters import check_declared, declared, declared_choice
from .projection import pca_projection
from .timing import timed
from .spectral import (
    RULES,
    affinity_from_similarity,
    clusters_from_spectrum,
    laplacian_spectrum,
    spectral_clusters,
)
from .wavelet_analysis import coarse_coefficients

MODES = {
    "auto": "Automatic (dense when it fits the memory budget)",
    "dense": "Dense: the pair score of every pair",
    "sparse": "Sparse: each image with its nearest candidates (50,000+ images)",
}
"""The ways of choosing the pairs to score, in the words the forms offer them."""
GROUPINGS = {
    "threshold": "Threshold: groups whose pair score is at least t",
    "spectral": "Spectral clustering (number of clusters from the eigen-gaps)",
}
MAX_SPECTRAL_CLUSTERS = 2000
MAX_AUTO_DENSE_PAIRS = 200_000
"""``mode="auto"`` scores every pair up to this many (about 630 images): the aligned pair
score verifies some 10,000 pairs a second on two cores."""


@dataclass
class SSIMParameters:
    """Parameters of the SSIM-spectral analysis, validated in one place."""

    mode: str = declared_choice("auto", MODES, "Similarity", radio=True)
    """"dense": the pair score of every pair (n x n, refused past ``memory_budget_gb``);
    "sparse": of each image with its candidates (``pair_score.n_neighbors`` nearest by
    each descriptor); "auto": dense up to ``MAX_AUTO_DENSE_PAIRS`` pairs when it fits the
    budget."""
    memory_budget_gb: float = declared(2.0, "Memory budget for dense mode (GiB)", above=0)
    grouping: str = declared_choice("threshold", GROUPINGS, "Grouping", radio=True)
    threshold: float = declared_threshold("Pair-score threshold", when=("grouping", "threshold"))
    """Threshold mode: the pair score every member of a group reaches with the member kept."""
    n_clusters: int = declared(None, "Number of clusters", "Leave empty to take it from the Laplacian spectrum",
                               when=("grouping", "spectral"), integer=True, at_least=1)  # fmt: skip
    """Spectral mode: the number of clusters; None takes it from the spectrum by ``rule``."""
    rule: str = declared_choice("largest_gap", RULES, "Eigen-gap rule", when=("grouping", "spectral"))
    gamma: float = declared(0.4, "Gamma", when=("grouping", "spectral"), above=0)
    n_eigenvalues: int = declared(50, "Eigenvalues computed", integer=True, at_least=2, offered=False)
    random_state: int = declared(0, "Random seed", integer=True, at_least=0, offered=False)
    pair_score: PairScoreParameters = field(default_factory=PairScoreParameters)
    """Candidates, verification (aligned similarity, or ``verification="ssim"`` for
    skimage's SSIM as it is) and fusion: see ``core.pair_score``."""

    def __post_init__(self):
        check_declared(self)
        self.pair_score = pair_score_parameters(self.pair_score)

    @property
    def device(self):
        return self.pair_score.device

    def dense_fits(self, n):
        return dense_bytes(n) <= self.memory_budget_gb * 2**30


def dense_bytes(n):
    """Memory of the dense analysis: the n x n similarity, its affinity and Laplacian."""
    return 3 * 8 * n * n


@dataclass
class SSIMAnalysis:
    mode: str
    pairs: ScoredPairs
    """The scored pairs the run keeps (``ScoredPairs.bounded``)."""
    spectrum: np.ndarray
    n_clusters: int
    eigengap_clusters: int
    """The number of clusters the spectrum gives by ``rule`` (whether or not it grouped)."""
    cluster_labels: np.ndarray
    decisions: Decisions
    points: np.ndarray
    identities: Identities = None
    """The identical and constant images, grouped before anything else."""
    timings: dict = field(default_factory=dict)


def resolve_mode(parameters, n, pictures=None):
    """The mode to run for n images (``pictures`` of them distinct: the pairs a dense run
    scores); refuses a dense run that would not fit."""
    pictures = n if pictures is None else pictures
    if parameters.mode == "auto":
        return "dense" if parameters.dense_fits(n) and pictures * (pictures - 1) // 2 <= MAX_AUTO_DENSE_PAIRS else "sparse"
    if parameters.mode == "dense" and not parameters.dense_fits(n):
        raise ValueError(
            f"dense similarity of {n} images needs about {dense_bytes(n) / 2**30:.1f} GiB, over "
            f"the memory budget of {parameters.memory_budget_gb} GiB; use mode='sparse' (each "
            "image with its nearest candidates) or raise memory_budget_gb"
        )
    return parameters.mode


def neighbor_pairs(features, n_neighbors):
    """Unique pairs ``i < j`` where j is among i's ``n_neighbors`` nearest rows (or i
    among j's), by Euclidean distance on ``features``."""
    from sklearn.neighbors import NearestNeighbors

    points = np.asarray(features, dtype=np.float64)
    count = min(n_neighbors + 1, len(points))
    _, neighbors = NearestNeighbors(n_neighbors=count, algorithm="brute").fit(points).kneighbors(points)
    first = np.repeat(np.arange(len(points)), count)
    second = neighbors.reshape(-1)
    pairs = np.stack([np.minimum(first, second), np.maximum(first, second)], axis=1)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    return np.unique(pairs, axis=0)


def analyze_ssim(images, labels=None, parameters=None, embeddings=None, progress=None, search=None, executor=None,
                 known=None):  # fmt: skip
    """Run Algorithm 2 on ``images`` (n, h, w[, c]) floats in [0, 1], on the pair score
    (``embeddings``, one row per image, add a candidate source and a fused signal);
    ``progress(done, total)`` follows the pair scoring; ``search`` finds the sparse
    mode's candidates (``pair_score.within_candidates``); ``executor``
    (``parallel.RayExecutor``) verifies the pairs (all of them, in dense mode) as Ray
    tasks, with the same scores. ``known`` (``known_pairs.KnownScores``, an update's): the
    pairs an earlier run scored are looked up, the others verified, each recorded."""
    parameters = parameters or SSIMParameters()
    n = len(images)
    timings = {}
    with timed(timings, "identities"):
        identities = find_identities(images)
    canonical, scored = identities.canonical, identities.scored
    mode = resolve_mode(parameters, n, len(scored))

    with timed(timings, "pair_scores"):
        if mode == "dense":
            local_first, local_second = np.triu_indices(len(scored), k=1)
            first, second = scored[local_first], scored[local_second]
            if known is not None:
                verify = reusing_verifier(parameters.pair_score, KnownRows(known), (images, embeddings, None))
                scores = verify(np.stack([first, second], axis=1), progress)[0]
            elif executor is None:
                scores = PairScorer(images, parameters.pair_score, embeddings).score(first, second, progress=progress)
            else:
                pairs = np.stack([first, second], axis=1)
                side = shard_side(images, parameters.pair_score, embeddings)
                scores = verify_sharded(executor, parameters.pair_score, pairs, side, progress=progress)[0]
            measured = score_matrix(n, ScoredPairs(first, second, scores)).toarray()
            # every image as its picture: identical images score 1 with each other
            similarity = measured[np.ix_(canonical, canonical)]
            pairs = ScoredPairs(first, second, scores).stored()
        else:
            pairs = score_within(
                images, parameters.pair_score, embeddings, progress=progress, search=search, executor=executor,
                identities=identities, known=known,
            )  # fmt: skip
            measured = score_matrix(n, pairs)
            copies = np.flatnonzero(canonical != np.arange(n))
            star = ScoredPairs(canonical[copies], copies, np.ones(len(copies)))
            similarity = score_matrix(n, ScoredPairs.concatenate([pairs, star]))

    with timed(timings, "spectrum"):
        affinity = affinity_from_similarity(similarity)
        spectrum = laplacian_spectrum(
            affinity, None if mode == "dense" and n <= 5000 else parameters.n_eigenvalues
        )
        eigengap_clusters = clusters_from_spectrum(spectrum, parameters.rule, parameters.gamma)

    with timed(timings, "grouping"):
        if parameters.grouping == "spectral":
            n_clusters = parameters.n_clusters or eigengap_clusters
            if n_clusters > MAX_SPECTRAL_CLUSTERS and n_clusters < n:
                raise ValueError(
                    f"spectral clustering into {n_clusters} clusters needs as many eigenvectors; "
                    f"use grouping='threshold' for near-duplicates at this scale, or pass "
                    f"n_clusters <= {MAX_SPECTRAL_CLUSTERS}"
                )
            # the paper's procedure: exactly n_clusters (identical images score 1 with each other)
            cluster_labels = spectral_clusters(affinity, n_clusters, parameters.random_state)
            decisions = decide(cluster_labels, picture_centrality(measured, canonical), labels)
        else:
            # the stored pairs alone decide, so a re-cut reproduces this run
            cluster_labels, decisions = decide_on_pairs(pairs, parameters.threshold, identities, labels)
            n_clusters = len(np.unique(cluster_labels))

    with timed(timings, "projection"):
        points = pca_projection(coarse_coefficients(images, parameters.device))
    return SSIMAnalysis(
        mode, pairs, spectrum, n_clusters, eigengap_clusters, cluster_labels, decisions, points, identities, timings
    )

