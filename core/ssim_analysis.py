"""Algorithm 2 of Yousefzadeh (2020) on an image batch: SSIM between images (all pairs, or
candidate pairs from wavelet neighbours), the Laplacian spectrum, the number of clusters,
spectral clustering or the threshold mode, and the decision rule."""

import time
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from .clustering import complete_linkage_groups
from .decisions import Decisions, decide, most_similar_on_average
from .devices import resolve_device
from .parameters import check_number
from .projection import pca_projection
from .spectral import (
    RULES,
    affinity_from_similarity,
    clusters_from_spectrum,
    laplacian_spectrum,
    spectral_clusters,
)
from .ssim import SSIMIndex
from .wavelet_analysis import coarse_coefficients

MODES = ("auto", "dense", "sparse")
GROUPINGS = ("threshold", "spectral")
MAX_SPECTRAL_CLUSTERS = 2000


@dataclass
class SSIMParameters:
    """Parameters of the SSIM-spectral analysis, validated in one place."""

    mode: str = "auto"
    """"dense": SSIM of every pair (n x n, refused past ``memory_budget_gb``); "sparse": SSIM
    of each image with its ``n_neighbors`` nearest wavelet neighbours; "auto": dense when
    it fits the budget."""
    grouping: str = "threshold"
    threshold: float = 0.9
    """Threshold mode: images whose SSIM with every other member is at least this."""
    n_clusters: int = None
    """Spectral mode: the number of clusters; None takes it from the spectrum by ``rule``."""
    rule: str = "largest_gap"
    gamma: float = 0.4
    n_neighbors: int = 10
    n_eigenvalues: int = 50
    memory_budget_gb: float = 2.0
    random_state: int = 0
    device: str = None

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.grouping not in GROUPINGS:
            raise ValueError(f"grouping must be one of {GROUPINGS}, got {self.grouping!r}")
        if self.rule not in RULES:
            raise ValueError(f"rule must be one of {RULES}, got {self.rule!r}")
        check_number("threshold (an SSIM value)", self.threshold, above=-1, below=1)
        if self.n_clusters is not None:
            self.n_clusters = check_number("n_clusters", self.n_clusters, integer=True, at_least=1)
        check_number("gamma", self.gamma, above=0)
        self.n_neighbors = check_number("n_neighbors", self.n_neighbors, integer=True, at_least=1)
        self.n_eigenvalues = check_number("n_eigenvalues", self.n_eigenvalues, integer=True, at_least=2)
        check_number("memory_budget_gb", self.memory_budget_gb, above=0)
        self.random_state = check_number("random_state", self.random_state, integer=True, at_least=0)
        resolve_device(self.device)

    def dense_fits(self, n):
        return dense_bytes(n) <= self.memory_budget_gb * 2**30


def dense_bytes(n):
    """Memory of the dense analysis: the n x n similarity, its affinity and Laplacian."""
    return 3 * 8 * n * n


@dataclass
class SSIMAnalysis:
    mode: str
    similarity: object
    """n x n array (dense) or sparse CSR matrix of SSIM on the candidate pairs."""
    spectrum: np.ndarray
    n_clusters: int
    cluster_labels: np.ndarray
    decisions: Decisions
    points: np.ndarray
    timings: dict = field(default_factory=dict)


def resolve_mode(parameters, n):
    """The mode to run for n images; refuses a dense run that would not fit."""
    if parameters.mode == "auto":
        return "dense" if parameters.dense_fits(n) else "sparse"
    if parameters.mode == "dense" and not parameters.dense_fits(n):
        raise ValueError(
            f"dense SSIM on {n} images needs about {dense_bytes(n) / 2**30:.1f} GiB, over the "
            f"memory budget of {parameters.memory_budget_gb} GiB; use mode='sparse' (SSIM "
            "with each image's nearest wavelet neighbours) or raise memory_budget_gb"
        )
    return parameters.mode


def neighbour_pairs(features, n_neighbors):
    """Unique pairs ``i < j`` where j is among i's ``n_neighbors`` nearest rows (or i
    among j's), by Euclidean distance on ``features``."""
    from sklearn.neighbors import NearestNeighbors

    points = np.asarray(features, dtype=np.float64)
    count = min(n_neighbors + 1, len(points))
    _, neighbours = NearestNeighbors(n_neighbors=count, algorithm="brute").fit(points).kneighbors(points)
    first = np.repeat(np.arange(len(points)), count)
    second = neighbours.reshape(-1)
    pairs = np.stack([np.minimum(first, second), np.maximum(first, second)], axis=1)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    return np.unique(pairs, axis=0)


def analyze_ssim(images, labels=None, parameters=None):
    """Run Algorithm 2 on ``images`` (n, h, w[, c]) floats in [0, 1]."""
    parameters = parameters or SSIMParameters()
    n = len(images)
    mode = resolve_mode(parameters, n)
    timings = {}

    started = time.perf_counter()
    features = coarse_coefficients(images, parameters.device)
    timings["wavelets"] = time.perf_counter() - started

    started = time.perf_counter()
    index = SSIMIndex(images, device=parameters.device)
    if mode == "dense":
        first, second = np.triu_indices(n, k=1)
    else:
        first, second = neighbour_pairs(features, parameters.n_neighbors).T
    values = index.pairs(first, second)
    timings["ssim"] = time.perf_counter() - started

    if mode == "dense":
        similarity = np.eye(n)
        similarity[first, second] = values
        similarity[second, first] = values

        def similarity_within(members):
            return similarity[np.ix_(members, members)]
    else:
        similarity = sp.coo_matrix((values, (first, second)), shape=(n, n)).tocsr()
        similarity = similarity + similarity.T + sp.identity(n, format="csr")

        def similarity_within(members):
            i, j = np.triu_indices(len(members), k=1)
            matrix = np.eye(len(members))
            matrix[i, j] = matrix[j, i] = index.pairs(members[i], members[j])
            return matrix

    started = time.perf_counter()
    affinity = affinity_from_similarity(similarity)
    spectrum = laplacian_spectrum(
        affinity, None if mode == "dense" and n <= 5000 else parameters.n_eigenvalues
    )
    timings["spectrum"] = time.perf_counter() - started

    started = time.perf_counter()
    if parameters.grouping == "spectral":
        n_clusters = parameters.n_clusters or clusters_from_spectrum(
            spectrum, parameters.rule, parameters.gamma
        )
        if n_clusters > MAX_SPECTRAL_CLUSTERS and n_clusters < n:
            raise ValueError(
                f"spectral clustering into {n_clusters} clusters needs as many eigenvectors; "
                f"use grouping='threshold' for near-duplicates at this scale, or pass "
                f"n_clusters <= {MAX_SPECTRAL_CLUSTERS}"
            )
        cluster_labels = spectral_clusters(affinity, n_clusters, parameters.random_state)
    else:
        close = values >= parameters.threshold
        pairs = np.stack([first[close], second[close]], axis=1)
        cluster_labels = complete_linkage_groups(
            n,
            pairs,
            1 - parameters.threshold,
            lambda members: 1 - similarity_within(members)[np.triu_indices(len(members), k=1)],
        )
        n_clusters = len(np.unique(cluster_labels))
    timings["grouping"] = time.perf_counter() - started

    started = time.perf_counter()
    decisions = decide(cluster_labels, most_similar_on_average(similarity_within), labels)
    timings["decisions"] = time.perf_counter() - started

    started = time.perf_counter()
    points = pca_projection(features, random_state=parameters.random_state)
    timings["projection"] = time.perf_counter() - started
    return SSIMAnalysis(mode, similarity, spectrum, n_clusters, cluster_labels, decisions, points, timings)
