"""Groups from scored pairs and the decisions on them, written once: the wavelet and SSIM
analyses and the re-cut of a stored run all call ``decide_on_pairs``, so that a re-cut
equals a fresh run.

Groups are average linkage (UPGMA) on ``1 - score``, cut at ``1 - threshold``, over the
distinct pictures (``families.Identities``: identical and constant images are one item):
two clusters merge when the mean score of the pairs between them reaches the cut, so the
mean score inside every group, and between any two parts it was merged from, reaches the
cut. A family of edited copies stays whole where two of its edits score below the cut,
and two different pictures never join through a third (a bridge that scores 0.9 with each
still averages 0.45 with one that scores 0 with the other: joining needs the bridge to be
a near-exact copy of both). A pair never scored, or scored under ``STORED_FLOOR``, counts
as 0; a pair a reviewer said differs counts as ``CANNOT_LINK`` (never in one group). Since
the mean between two merging clusters reaches the cut only if some pair between them does,
each group lies inside one connected component of the pairs at the cut, and the linkage is
run per component.
"""

import numpy as np

from .decisions import decide


def score_matrix(n, pairs):
    """The scored pairs as a symmetric sparse ``n x n`` matrix with a unit diagonal;
    unscored pairs are 0."""
    import scipy.sparse as sp

    matrix = sp.coo_matrix((pairs.score, (pairs.first, pairs.second)), shape=(n, n)).tocsr()
    return (matrix + matrix.T + sp.identity(n, format="csr")).tocsr()


def submatrix(matrix, members):
    """The dense square block of ``matrix`` (dense or sparse CSR) for ``members``; from a
    sparse matrix its rows are taken, then the entries of the members' columns (a
    column selection of a CSR matrix costs several times more: a million images' groups
    are a minute of the decisions)."""
    import scipy.sparse as sp

    members = np.asarray(members, dtype=np.int64)
    if not sp.issparse(matrix):
        return np.asarray(matrix[np.ix_(members, members)])
    rows = matrix[members]
    order = np.argsort(members)
    position = np.minimum(np.searchsorted(members[order], rows.indices), len(members) - 1)
    inside = members[order][position] == rows.indices
    block = np.zeros((len(members), len(members)))
    row = np.repeat(np.arange(len(members)), np.diff(rows.indptr))
    block[row[inside], order[position[inside]]] = rows.data[inside]
    return block


def score_groups(n, pairs, threshold, matrix=None):
    """Cluster label per item (named by its first member): average linkage over the
    scored ``pairs`` (see the module). Only stored pairs decide, so a re-cut at another
    threshold gives the same groups as a fresh run at that threshold."""
    from .clustering import linkage_groups

    matrix = score_matrix(n, pairs) if matrix is None else matrix
    close = pairs.score >= threshold

    def member_distances(members):
        block = 1 - submatrix(matrix, members)
        return block[np.triu_indices(len(members), k=1)]

    edges = np.stack([pairs.first[close], pairs.second[close]], axis=1)
    # a hair below the cut so that a pair exactly at the threshold is grouped
    return linkage_groups(n, edges, (1 - threshold) * (1 + 1e-9) + 1e-12, member_distances, "average")


def decide_on_pairs(pairs, threshold, identities, labels=None):
    """``(cluster labels, core.decisions.Decisions)`` of the images ``identities`` covers
    from their stored scored ``pairs`` (row indices; pairs touching an identical copy count
    for its picture): groups by ``score_groups`` over one item per picture, identical
    images in their picture's group, then the keep / redundant / influential rule with the
    member most similar on average to the others kept."""
    n = len(identities)
    canonical = identities.canonical
    pairs = _per_picture(pairs, canonical, n)
    matrix = score_matrix(n, pairs)
    cluster_labels = score_groups(n, pairs, threshold, matrix)[canonical]
    return cluster_labels, decide(cluster_labels, picture_centrality(matrix, canonical), labels)


def _per_picture(pairs, canonical, n):
    """``pairs`` between the pictures of their images, once each: where several pairs meet
    one pair of pictures, a ``CANNOT_LINK`` wins, else the highest score."""
    from .pair_score import CANNOT_LINK, ScoredPairs

    first, second = canonical[pairs.first], canonical[pairs.second]
    low, high = np.minimum(first, second), np.maximum(first, second)
    keep = low != high
    keys = low[keep] * n + high[keep]
    score = np.asarray(pairs.score, dtype=np.float64)[keep]
    if not len(keys):
        return ScoredPairs(np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64), np.empty(0))
    order = np.lexsort((-score, keys))
    keys, score = keys[order], score[order]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    lowest = np.minimum.reduceat(score, starts)
    merged = np.where(lowest <= CANNOT_LINK, lowest, score[starts])
    unique = keys[starts]
    return ScoredPairs(unique // n, unique % n, merged)


def picture_centrality(matrix, canonical):
    """Centrality (``core.decisions.decide``): keep the member with the highest mean score
    with the other members, identical members scoring 1 with each other, computed over
    the group's distinct pictures weighted by their copies."""

    def centrality(members):
        pictures, position, copies = np.unique(canonical[members], return_inverse=True, return_counts=True)
        block = np.clip(submatrix(matrix, pictures), 0, 1)
        np.fill_diagonal(block, 1)
        mean = ((block @ copies)[position] - 1) / (len(members) - 1)
        return int(np.argmax(mean)), mean

    return centrality

