"""The keep / redundant / influential rule shared by every analysis (Algorithm 1, step 5)."""

from dataclasses import dataclass

import numpy as np

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


def decide(cluster_labels, features, labels=None):
    """Apply the decision rule to a clustering.

    Per cluster of 2+ rows: if every member has the same label (or ``labels`` is None), the
    member nearest the cluster's mean is the ``representative`` and the others are
    ``redundant`` (pointing at it); if labels differ, every member is ``influential``
    (look-alikes the model must tell apart). Single-row clusters are ``unique``. Missing
    labels (None) count as a label of their own.
    """
    cluster_labels = np.asarray(cluster_labels)
    features = np.asarray(features, dtype=np.float64)
    n = len(cluster_labels)
    if features.shape[0] != n:
        raise ValueError(f"{features.shape[0]} feature rows for {n} cluster labels")
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
        centre = features[members].mean(axis=0)
        distances = np.linalg.norm(features[members] - centre, axis=1)
        score[members] = distances
        group[members] = number
        if labels is not None and len({_label_key(labels[i]) for i in members}) > 1:
            status[members] = INFLUENTIAL
            continue
        kept = members[int(np.argmin(distances))]
        status[members] = REDUNDANT
        representative[members] = kept
        status[kept] = REPRESENTATIVE
        representative[kept] = -1
    return Decisions(status, group, representative, score)


def _label_key(label):
    return None if label is None else str(label)
