"""The keep / redundant / influential rule shared by every analysis (Algorithm 1, step 5)."""

from dataclasses import dataclass

import numpy as np

from .streaming import DiskRows, take_rows

REPRESENTATIVE = "representative"
REDUNDANT = "redundant"
INFLUENTIAL = "influential"
OUTLIER = "outlier"
UNIQUE = "unique"
STATUSES = (REPRESENTATIVE, REDUNDANT, INFLUENTIAL, OUTLIER, UNIQUE)


@dataclass
class Decisions:
    """Per-sample outcome of an analysis, index-aligned with its input rows."""

    status: np.ndarray
    """One of ``STATUSES`` per row."""
    group: np.ndarray
    """Group number of rows in a cluster of 2+ (largest group first), -1 otherwise."""
    representative: np.ndarray
    """Row index of the kept member for ``redundant`` rows, -1 otherwise."""
    score: np.ndarray
    """Euclidean distance of the row to its cluster's centre (0 for singletons)."""

    def counts(self):
        return {status: int(np.count_nonzero(self.status == status)) for status in STATUSES}


def decide(cluster_labels, centrality, labels=None):
    """Apply the decision rule to a clustering.

    Per cluster of 2+ rows: if every member has the same label (or ``labels`` is None), the
    most central member (``centrality(members) -> (position of the kept member, score per
    member)``) is the ``representative`` and the others are ``redundant`` (pointing at it);
    if labels differ, every member is ``influential`` (look-alikes the model must tell
    apart). Single-row clusters are ``unique``. Missing labels (None) count as a label of
    their own.
    """
    cluster_labels = np.asarray(cluster_labels)
    n = len(cluster_labels)
    if labels is not None and len(labels) != n:
        raise ValueError(f"{len(labels)} labels for {n} cluster labels")

    status = np.full(n, UNIQUE, dtype=object)
    group = np.full(n, -1, dtype=np.int64)
    representative = np.full(n, -1, dtype=np.int64)
    score = np.zeros(n)

    _, inverse, sizes = np.unique(cluster_labels, return_inverse=True, return_counts=True)
    order = np.argsort(inverse, kind="stable")
    members_by_cluster = np.split(order, np.cumsum(sizes)[:-1])
    multi = [members for members in members_by_cluster if len(members) > 1]
    # Largest groups first; ties by first member so the numbering is repeatable.
    multi.sort(key=lambda members: (-len(members), members[0]))

    for number, members in enumerate(multi):
        kept_position, member_scores = centrality(members)
        score[members] = member_scores
        group[members] = number
        if labels is not None and len({_label_key(labels[i]) for i in members}) > 1:
            status[members] = INFLUENTIAL
            continue
        kept = members[kept_position]
        status[members] = REDUNDANT
        representative[members] = kept
        status[kept] = REPRESENTATIVE
        representative[kept] = -1
    return Decisions(status, group, representative, score)


def nearest_to_mean(features):
    """Centrality by features: keep the member nearest the cluster's mean; the score is
    each member's Euclidean distance to that mean."""
    if not isinstance(features, DiskRows):
        features = np.asarray(features, dtype=np.float64)

    def centrality(members):
        rows = np.asarray(take_rows(features, members), dtype=np.float64)
        distances = np.linalg.norm(rows - rows.mean(axis=0), axis=1)
        return int(np.argmin(distances)), distances

    return centrality


def _label_key(label):
    return None if label is None else str(label)


def closest_in_angle(features):
    """Centrality by direction: keep the member with the highest cosine to the
    normalised mean of the cluster's unit vectors; the score is one minus that cosine."""
    features = np.asarray(features, dtype=np.float64)
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    directions = np.divide(features, norms, out=np.zeros_like(features), where=norms > 0)

    def centrality(members):
        mean = directions[members].mean(axis=0)
        mean /= np.linalg.norm(mean) or 1.0
        cosines = directions[members] @ mean
        return int(np.argmax(cosines)), 1 - cosines

    return centrality
