"""Algorithm 1 of Yousefzadeh (2020) end to end on an image batch: wavelets, column
selection, clustering, decisions, with the time each stage took."""

from dataclasses import dataclass, field

import numpy as np

from .clustering import kmeans_clusters, threshold_clusters
from .decisions import Decisions, decide, nearest_to_mean
from .devices import resolve_device
from .families import Identities, find_identities
from .grouping import decide_on_pairs
from .images import NORMALIZATIONS, normalize_images
from .pair_score import (
    PairScoreParameters,
    ScoredPairs,
    declared_threshold,
    pair_score_parameters,
    score_within,
)
from .parameters import check_choice, check_declared, declared, declared_choice, declared_flag, declared_text
from .projection import pca_projection
from .qr_selection import SELECTIONS, ColumnSelection, select_columns
from .streaming import in_memory, map_rows
from .timing import timed
from .wavelets import wavelet_coefficients

GROUPINGS = {
    "score": "Pair score: tolerates shifts, re-crops, colour grades and grey copies",
    "distance": "Coefficient distance (fastest; mild copies only)",
    "kmeans": "k-means with n clusters (the paper's procedure)",
}
"""The groupings, in the words the forms offer them."""


@dataclass
class WaveletParameters:
    """Parameters of the wavelet analysis, validated in one place.

    Grouping: ``"score"`` (the default) verifies each image's nearest neighbours in the
    selected coefficients (and by the pair score's shift-free descriptor) with the pair
    score, and cuts minimax linkage at ``threshold`` (``grouping``): it finds shifted, re-cropped and
    colour-graded copies. ``"distance"`` groups unit coefficient vectors within
    ``radius`` of each other (the first wave's rule: fast, only mild copies). The paper's
    exact procedure is ``level=1, approximation_only=False, normalization="none",
    grouping="kmeans", n_clusters=0.94``.
    """

    grouping: str = declared_choice("score", GROUPINGS, "Grouping", radio=True)
    threshold: float = declared_threshold("Pair-score threshold", "Group the images whose pair score with one "
                                          "member, the one kept, reaches this (1: identical; lower finds heavier "
                                          "edits and more look-alikes)", when=("grouping", "score"))  # fmt: skip
    """``grouping="score"``: the pair score every member of a group reaches with the member kept."""
    radius: float = declared(0.12, "Distance", "Group images whose normalized coefficients are this close "
                             "(0.12: near-identical)", when=("grouping", "distance"), above=0)  # fmt: skip
    """``grouping="distance"``: the Euclidean distance of unit coefficient vectors."""
    n_clusters: float = declared(0.94, "Number of clusters", "A count (e.g. 4700) or a fraction of the view "
                                 "(0.94 as in the paper for CIFAR-10)", when=("grouping", "kmeans"), above=0)  # fmt: skip
    normalization: str = declared_choice("contrast", NORMALIZATIONS, "Per-image normalization")
    wavelet: str = declared_text("db1", "Wavelet", "A PyWavelets family: db1 (Haar), db2, sym4, coif1, ...")
    level: int = declared(2, "Decomposition level", integer=True, at_least=1)
    approximation_only: bool = declared_flag(True, "Approximation coefficients only", "Coarse coefficients only: "
                                             "tolerant of small shifts, crops and re-encoding")  # fmt: skip
    tau: float = declared(1e5, "Condition-number bound (tau)",
                          "Pivoted QR keeps the most independent coefficients under this bound", above=1)  # fmt: skip
    mode: str = "periodization"
    selection: str = "gram"
    random_state: int = declared(0, "Random seed", integer=True, at_least=0, offered=False)
    device: str = None
    """None picks a CUDA GPU when torch sees one (wavelets, neighbour search, the pair
    score), else CPU."""
    pair_score: PairScoreParameters = None
    """Candidates, verification and fusion for ``grouping="score"`` (its device follows
    ``device``)."""

    def __post_init__(self):
        import pywt

        if self.wavelet not in pywt.wavelist(kind="discrete"):
            raise ValueError(
                f"unknown wavelet {self.wavelet!r}; use a discrete PyWavelets family such "
                "as 'db1' (Haar), 'db2', 'sym4' or 'coif1'"
            )
        if self.mode not in pywt.Modes.modes:
            raise ValueError(f"unknown mode {self.mode!r}; use one of {pywt.Modes.modes}")
        check_declared(self)
        resolve_device(self.device)  # refuses unknown names and a missing GPU
        self.pair_score = pair_score_parameters(self.pair_score, self.device)
        check_choice("selection", self.selection, SELECTIONS)


@dataclass
class WaveletAnalysis:
    """What the analysis found, index-aligned with the input images."""

    coefficients_shape: tuple
    selection: ColumnSelection
    cluster_labels: np.ndarray
    decisions: Decisions
    points: np.ndarray
    """2-D PCA projection of the selected coefficients, for the embedding panel."""
    pairs: ScoredPairs = None
    """``grouping="score"``: the scored pairs the run keeps (``ScoredPairs.stored``)."""
    identities: Identities = None
    """The identical and constant images, grouped before anything else."""
    timings: dict = field(default_factory=dict)


def wavelet_features(images, parameters, timings=None):
    """Steps 1-3: normalized images -> wavelet coefficients -> the selected columns.

    Returns ``(features, selection, coefficients_shape)``; ``timings`` (a dict) receives
    the seconds each step took. ``images`` may be a ``streaming.ImageStore``: the
    coefficients and features then go to files beside it, chunk by chunk."""
    timings = {} if timings is None else timings
    with timed(timings, "wavelets"):
        coefficients = map_rows(
            images,
            lambda chunk: wavelet_coefficients(
                normalize_images(chunk, parameters.normalization),
                parameters.wavelet,
                parameters.level,
                parameters.mode,
                parameters.approximation_only,
                parameters.device,
            ),
        )
    with timed(timings, "column_selection"):
        selection = select_columns(coefficients, parameters.tau, parameters.selection)
        features = map_rows(coefficients, lambda chunk: chunk[:, selection.kept_columns])
    return features, selection, coefficients.shape


def coarse_coefficients(images, device=None):
    """Level-2 Haar approximation of the raw images (no normalization, no selection): the
    features SSIM's candidate search uses, comparable across any two image sets, and
    keeping brightness, which SSIM counts too."""
    return wavelet_coefficients(images, "db1", level=2, approximation_only=True, device=device)


def analyze_wavelet_clusters(images, labels=None, parameters=None, embeddings=None, progress=None, search=None,
                             executor=None, known=None):  # fmt: skip
    """Run Algorithm 1 on ``images`` (n, h, w[, c]) with optional per-image ``labels``
    (and ``embeddings``, rows per image, as a pair-score signal); ``progress(done, total)``
    follows the pair verification. ``images`` may be a ``streaming.ImageStore``: the
    wavelets, selection, grouping, decisions and projection then read it and their
    features by chunks (bounded memory at a million images; ``"kmeans"`` alone reads the
    features whole). ``search`` finds the pair score's
    candidates (``pair_score.within_candidates``; default: ``pair_score.nearest_neighbors``);
    ``executor`` (``parallel.RayExecutor``) verifies them as Ray tasks. ``known``
    (``known_pairs.KnownScores``, rows of ``images``): the evidence of the pairs an
    earlier run of these images verified, fused with this run's selected columns, and
    given the evidence of every pair this run used (``bridge.update``)."""
    parameters = parameters or WaveletParameters()
    timings = {}
    with timed(timings, "identities"):
        identities = find_identities(images)
    selected, selection, coefficients_shape = wavelet_features(images, parameters, timings)

    pairs = None
    if parameters.grouping == "score":
        pairs = score_within(
            images, parameters.pair_score, embeddings, wavelet_descriptor=selected, progress=progress,
            search=search, executor=executor, timings=timings, identities=identities,
            known=known,
        )  # fmt: skip
        with timed(timings, "grouping"):
            cluster_labels, decisions = decide_on_pairs(pairs, parameters.threshold, identities, labels)
    else:
        with timed(timings, "grouping"):
            if parameters.grouping == "kmeans":  # the paper's procedure: exactly n_clusters, as it is
                cluster_labels = kmeans_clusters(in_memory(selected), parameters.n_clusters, parameters.random_state)
            else:
                cluster_labels = identities.applied_to(threshold_clusters(selected, parameters.radius, parameters.device))
        with timed(timings, "decisions"):
            decisions = decide(cluster_labels, nearest_to_mean(selected), labels)

    with timed(timings, "projection"):
        points = pca_projection(selected)

    return WaveletAnalysis(
        coefficients_shape, selection, cluster_labels, decisions, points, pairs, identities, timings
    )
