"""Algorithm 1 of Yousefzadeh (2020) end to end on an image batch: wavelets, column
selection, clustering, decisions, with the time each stage took."""

import time
from dataclasses import dataclass, field

import numpy as np

from .clustering import kmeans_clusters, threshold_clusters
from .decisions import Decisions, decide, nearest_to_mean
from .devices import resolve_device
from .images import NORMALIZATIONS, normalize_images
from .parameters import check_flag, check_number
from .projection import pca_projection
from .qr_selection import ColumnSelection, select_columns
from .wavelets import wavelet_coefficients


@dataclass
class WaveletParameters:
    """Parameters of the wavelet analysis, validated in one place.

    The defaults (contrast-normalized images, level-2 Haar approximation, complete-linkage
    grouping within a cosine-like threshold) were chosen on the demo's planted copies:
    they group every exact, JPEG, brightness, noise, colour, shift and crop copy and
    almost nothing else. The paper's exact procedure is ``level=1,
    approximation_only=False, normalization="none", grouping="kmeans", n_clusters=0.94``.
    """

    wavelet: str = "db1"
    level: int = 2
    mode: str = "periodization"
    approximation_only: bool = True
    normalization: str = "contrast"
    tau: float = 1e5
    selection: str = "gram"
    grouping: str = "threshold"
    threshold: float = 0.12
    n_clusters: float = 0.94
    random_state: int = 0
    device: str = None
    """None picks a CUDA GPU when torch sees one (wavelets, neighbour search), else CPU."""

    def __post_init__(self):
        import pywt

        if self.wavelet not in pywt.wavelist(kind="discrete"):
            raise ValueError(
                f"unknown wavelet {self.wavelet!r}; use a discrete PyWavelets family such "
                "as 'db1' (Haar), 'db2', 'sym4' or 'coif1'"
            )
        if self.mode not in pywt.Modes.modes:
            raise ValueError(f"unknown mode {self.mode!r}; use one of {pywt.Modes.modes}")
        self.level = check_number("level", self.level, integer=True, at_least=1)
        check_flag("approximation_only", self.approximation_only)
        check_number("tau", self.tau, above=1)
        check_number("threshold", self.threshold, above=0)
        check_number("n_clusters", self.n_clusters, above=0)
        self.random_state = check_number("random_state", self.random_state, integer=True, at_least=0)
        if self.normalization not in NORMALIZATIONS:
            raise ValueError(
                f"normalization must be one of {NORMALIZATIONS}, got {self.normalization!r}"
            )
        resolve_device(self.device)  # refuses unknown names and a missing GPU
        if self.grouping not in ("threshold", "kmeans"):
            raise ValueError(f"grouping must be 'threshold' or 'kmeans', got {self.grouping!r}")
        if self.selection not in ("qr", "gram"):
            raise ValueError(f"selection must be 'qr' or 'gram', got {self.selection!r}")


@dataclass
class WaveletAnalysis:
    """What the analysis found, index-aligned with the input images."""

    coefficients_shape: tuple
    selection: ColumnSelection
    cluster_labels: np.ndarray
    decisions: Decisions
    points: np.ndarray
    """2-D PCA projection of the selected coefficients, for the embedding panel."""
    timings: dict = field(default_factory=dict)


def wavelet_features(images, parameters, timings=None):
    """Steps 1-3: normalized images -> wavelet coefficients -> the selected columns.

    Returns ``(features, selection, coefficients_shape)``; ``timings`` (a dict) receives
    the seconds each step took."""
    timings = {} if timings is None else timings
    started = time.perf_counter()
    coefficients = wavelet_coefficients(
        normalize_images(images, parameters.normalization),
        parameters.wavelet,
        parameters.level,
        parameters.mode,
        parameters.approximation_only,
        parameters.device,
    )
    timings["wavelets"] = time.perf_counter() - started

    started = time.perf_counter()
    selection = select_columns(coefficients, parameters.tau, parameters.selection)
    features = coefficients[:, selection.kept_columns]
    timings["column_selection"] = time.perf_counter() - started
    return features, selection, coefficients.shape


def coarse_coefficients(images, device=None):
    """Level-2 Haar approximation of the raw images (no normalization, no selection): the
    features SSIM's candidate search uses, comparable across any two image sets, and
    keeping brightness, which SSIM counts too."""
    return wavelet_coefficients(images, "db1", level=2, approximation_only=True, device=device)


def analyze_wavelet_clusters(images, labels=None, parameters=None):
    """Run Algorithm 1 on ``images`` (n, h, w[, c]) with optional per-image ``labels``."""
    parameters = parameters or WaveletParameters()
    timings = {}
    selected, selection, coefficients_shape = wavelet_features(images, parameters, timings)

    started = time.perf_counter()
    if parameters.grouping == "kmeans":
        cluster_labels = kmeans_clusters(
            selected, parameters.n_clusters, parameters.random_state
        )
    else:
        cluster_labels = threshold_clusters(selected, parameters.threshold, parameters.device)
    timings["grouping"] = time.perf_counter() - started

    started = time.perf_counter()
    decisions = decide(cluster_labels, nearest_to_mean(selected), labels)
    timings["decisions"] = time.perf_counter() - started

    started = time.perf_counter()
    points = pca_projection(selected, random_state=parameters.random_state)
    timings["projection"] = time.perf_counter() - started

    return WaveletAnalysis(
        coefficients_shape, selection, cluster_labels, decisions, points, timings
    )
