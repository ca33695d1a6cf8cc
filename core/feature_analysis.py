"""Feature-map analysis (Raud 2023, with the class-wise variant of Birodkar et al. 2019):
reduce, rank outliers with HDBSCAN, merge semantically similar images by agglomerative
cosine clustering, keep the member nearest each cluster's centre. PCA and the k-NN
searches run in torch, on a GPU when there is one (``device``), with the CPU's results."""

import math
from dataclasses import dataclass, field

import numpy as np

from .clustering import named_by_first_member
from .decisions import OUTLIER, Decisions, closest_in_angle, decide
from .devices import resolve_device
from .linkage import average_linkage_clusters
from .outliers import outlier_scores
from .parameters import check_declared, declared, declared_choice, declared_flag
from .projection import pca_projection
from .timing import timed

REDUCTIONS = {"pca": "PCA", "umap": "UMAP", "none": "None"}
"""The reductions of the activations, in the words the forms offer them."""


@dataclass
class FeatureParameters:
    classwise: bool = declared_flag(False, "Within each class (keeps every class's share)")
    reduction: str = declared_choice("pca", REDUCTIONS, "Reduction")
    n_reduce: int = declared(50, "Dimensions after reduction", integer=True, at_least=1)
    p_outlier: float = declared(0.01, "Share marked outlier", at_least=0, below=1)
    p_similar: float = declared(0.1, "Share marked redundant", at_least=0, below=1)
    min_cluster_size: int = declared(5, "Smallest HDBSCAN cluster", integer=True, at_least=2, offered=False)
    n_neighbors: int = declared(15, "UMAP neighbours", integer=True, at_least=1, offered=False)
    random_state: int = declared(0, "Random seed", integer=True, at_least=0, offered=False)

    def __post_init__(self):
        check_declared(self)
        if self.p_outlier + self.p_similar >= 1:
            raise ValueError(
                f"p_outlier ({self.p_outlier}) and p_similar ({self.p_similar}) must be shares "
                "in [0, 1) that add up to less than 1"
            )


@dataclass
class FeatureAnalysis:
    reduced: np.ndarray
    outlier_scores: np.ndarray
    cluster_labels: np.ndarray
    decisions: Decisions
    points_2d: np.ndarray
    points_3d: np.ndarray
    timings: dict = field(default_factory=dict)


def reduce_features(features, reduction="pca", n_reduce=50, random_state=0, device=None):
    """``min(n_reduce, n, d)`` dimensions by PCA (``U * S``: no whitening) or UMAP."""
    features = np.asarray(features, dtype=np.float64)
    if not np.all(np.isfinite(features)):
        bad = np.flatnonzero(~np.all(np.isfinite(features), axis=1))
        raise ValueError(f"feature rows {bad[:5].tolist()} hold NaN or infinite values")
    n, d = features.shape
    dimensions = min(n_reduce, n, d)
    if reduction == "none" or dimensions == d:
        return features
    if reduction == "pca":
        return principal_components(features, dimensions, device)
    import umap

    return umap.UMAP(n_components=min(dimensions, n - 2), random_state=random_state).fit_transform(features)


def principal_components(features, dimensions, device=None):
    """The rows' coordinates on their top ``dimensions`` principal axes, from the d x d
    covariance in float64 torch (one pass over the rows, on ``device``); each axis points
    where its largest loading is positive (scikit-learn's sign rule), so CPU and GPU agree."""
    import torch

    rows = torch.as_tensor(features, dtype=torch.float64, device=resolve_device(device))
    centred = rows - rows.mean(dim=0)
    _, axes = torch.linalg.eigh(centred.T @ centred)
    axes = axes[:, -dimensions:].flip(1)
    signs = torch.sign(axes.gather(0, axes.abs().argmax(dim=0, keepdim=True)))
    return (centred @ (axes * signs)).cpu().numpy()


def analyze_features(features, labels=None, parameters=None, device=None):
    """Steps 2-6 on a feature matrix (one row per image); ``device`` as ``resolve_device``."""
    parameters = parameters or FeatureParameters()
    n = len(features)
    if parameters.classwise and labels is None:
        raise ValueError("classwise mode needs labels: pass a label_field")
    timings = {}

    with timed(timings, "reduction"):
        reduced = reduce_features(features, parameters.reduction, parameters.n_reduce, parameters.random_state, device)

    groups = np.asarray(labels, dtype=object) if parameters.classwise else np.zeros(n, dtype=object)
    scores = np.zeros(n)
    outliers = np.zeros(n, dtype=bool)
    cluster_labels = np.arange(n)
    for group in dict.fromkeys(groups):
        members = np.flatnonzero(groups == group)
        with timed(timings, "outliers"):
            scores[members] = outlier_scores(reduced[members], parameters.min_cluster_size, device=device)
            n_outliers = math.ceil(parameters.p_outlier * len(members))
            ranked = members[np.argsort(-scores[members], kind="stable")]
            outliers[ranked[:n_outliers]] = True

        with timed(timings, "clustering"):
            rest = members[~outliers[members]]
            n_keep = max(1, math.floor((1 - parameters.p_outlier - parameters.p_similar) * len(members)))
            local = average_linkage_clusters(reduced[rest], min(n_keep, len(rest)), parameters.n_neighbors, device)
            cluster_labels[rest] = named_by_first_member(rest, local)

    with timed(timings, "decisions"):
        decisions = decide(cluster_labels, closest_in_angle(reduced), labels)
        decisions.status[outliers] = OUTLIER
        decisions.score[outliers] = scores[outliers]

    with timed(timings, "projection"):
        points_3d = pca_projection(reduced, 3)
    return FeatureAnalysis(reduced, scores, cluster_labels, decisions, points_3d[:, :2], points_3d, timings)
