"""Groups from scored pairs and the decisions on them, written once: the wavelet and SSIM
analyses and the re-cut of a stored run all call ``decide_on_pairs``, so that a re-cut
equals a fresh run.

Groups are minimax linkage (Bien and Tibshirani 2011) on the pair score, cut at
``threshold``, over the distinct pictures (``families.Identities``: identical and constant
images are one item): a group is formed only where one of its members, its prototype,
scores at or above the cut with every other member, and groups merge in the order of that
prototype's lowest score (highest first). The prototype is the image kept
(``picture_centrality``), so every redundant image is a copy of the image kept for it by
the score itself, whatever its score with the family's other edits: a down-scaled copy
and a blurred copy of one photograph can score under the cut with each other and
still join their original's group (average linkage, used before 0.9, asked a copy's mean
score with the whole family to reach the cut, and split such families at a million
images). Two different pictures never join through a chain: a group spans at most two
steps, each member to the prototype, and two groups merge only when one image is a copy of
every member of both. A pair never scored, or scored under ``STORED_FLOOR``, counts as 0;
a pair a reviewer said differs (``CANNOT_LINK``) is never in one group. Every group lies
inside one connected component of the pairs at the cut, and the linkage is run per
component.
"""

import numpy as np

from .decisions import decide


LARGEST_COMPONENT = 5_000
"""Images chained by pairs at the cut (a connected component) that one linkage is run on
at most, unless one of them reaches the cut with every other (one group, found from the
pairs alone): the linkage holds their scores as a dense square (200 MB at this size) and
every pair at the cut in a queue (up to 2 GB). At a million CIFAR-10 images and their
edited copies the largest component holds 1,357."""


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
    """Cluster label per item (named by its first member): minimax linkage over the
    scored ``pairs`` (see the module), per connected component of the pairs at the cut.
    Only stored pairs decide, so a re-cut at another threshold gives the same groups as a
    fresh run at that threshold."""
    from .clustering import component_groups, connected
    from .pair_score import CANNOT_LINK

    matrix = score_matrix(n, pairs) if matrix is None else matrix
    cut = _at_cut(threshold)
    close = pairs.score >= cut
    component = connected(n, np.stack([pairs.first[close], pairs.second[close]], axis=1))
    sizes = np.bincount(component)
    # a component with a member reaching the cut with every other (and no pair said to
    # differ) is one group, read from the pairs alone: that member can join any two of its
    # clusters, so minimax linkage ends only with one
    degree = np.bincount(np.r_[pairs.first[close], pairs.second[close]], minlength=n)
    covered = np.bincount(component, degree == sizes[component] - 1, minlength=len(sizes)) > 0
    differing = pairs.score <= CANNOT_LINK
    inside = component[pairs.first[differing]] == component[pairs.second[differing]]
    covered[component[pairs.first[differing]][inside]] = False

    def cluster(members):
        if covered[component[members[0]]]:
            return np.zeros(len(members), dtype=np.int64)
        if len(members) > LARGEST_COMPONENT:
            raise ValueError(
                f"{len(members):,} images are chained by pair scores at or above threshold={threshold} with no "
                f"image a copy of all of them, more than the {LARGEST_COMPONENT:,} one linkage is run on; "
                "use a higher threshold"
            )
        return minimax_linkage(submatrix(matrix, members), cut)

    return component_groups(component, cluster)


def _at_cut(threshold):
    """The lowest score that counts as reaching ``threshold``: a hair below it, so that a
    pair scoring exactly the threshold (through float error) is grouped."""
    return threshold - 1e-9 * (1 - threshold) - 1e-12


def minimax_linkage(block, cut):
    """Cluster number per row of the dense square score ``block`` (unit diagonal): the
    clusters of minimax linkage at ``cut`` (see the module). Merges are taken highest
    linkage first, ties by the highest sum of scores between the two clusters, then by
    the order the clusters were formed; a cluster pair holding a ``CANNOT_LINK`` score
    never merges."""
    import heapq

    from .pair_score import CANNOT_LINK

    m = len(block)
    cannot = block <= CANNOT_LINK
    forbidding = bool(cannot.any())
    reaches = block >= cut
    # per live cluster, over every row: its lowest score with the members, whether some
    # member reaches it at the cut, the sum of its scores with them, whether one cannot link
    # (a single row's are its columns of the block, read when needed)
    lowest, reached, total, barred = {}, {}, {}, {}

    def of(cluster):
        if cluster in lowest:
            return lowest.pop(cluster), reached.pop(cluster), total.pop(cluster), barred.pop(cluster)
        column = block[:, cluster]
        return column, reaches[:, cluster], np.clip(column, 0, None), cannot[:, cluster]

    cluster_of = np.arange(m)
    live = set(range(m))
    first, second = np.nonzero(np.triu(reaches, 1) & ~cannot)
    heap = [(-score, -score, a, b) for score, a, b in zip(block[first, second].tolist(), first.tolist(), second.tolist())]
    heapq.heapify(heap)
    formed = m
    while heap:
        *_, a, b = heapq.heappop(heap)
        if a not in live or b not in live:
            continue
        live -= {a, b}
        (low_a, reach_a, total_a, barred_a), (low_b, reach_b, total_b, barred_b) = of(a), of(b)
        scores, reach, sums, bars = np.minimum(low_a, low_b), reach_a | reach_b, total_a + total_b, barred_a | barred_b
        merged = (cluster_of == a) | (cluster_of == b)
        cluster_of[merged] = formed
        live.add(formed)
        lowest[formed], reached[formed], total[formed], barred[formed] = scores, reach, sums, bars
        partners = np.unique(cluster_of[reach & ~merged])
        if forbidding:
            partners = partners[~np.isin(partners, cluster_of[bars])]
        covering = np.flatnonzero(scores >= cut)
        if len(partners) and len(covering):
            # a partner's linkage: the best prototype of the union, among the rows that reach the
            # cut with every merged member
            partners = np.concatenate([partners[partners < m], partners[partners >= m]])  # single rows first
            single = np.count_nonzero(partners < m)
            theirs = np.concatenate([block[np.ix_(covering, partners[:single])]]
                                    + [lowest[partner][covering, None] for partner in partners[single:].tolist()], axis=1)  # fmt: skip
            union = merged[covering, None] | (cluster_of[covering, None] == partners[None, :])
            linkage = np.where(union, np.minimum(scores[covering, None], theirs), -np.inf).max(axis=0)
            # ties (two merges limited by one score) go to the larger sum of scores between the
            # clusters, which does not depend on how the pictures are numbered
            between = np.bincount(cluster_of, sums, minlength=formed + 1)[partners]
            joining = linkage >= cut
            for partner, value, summed in zip(partners[joining].tolist(), linkage[joining].tolist(), between[joining].tolist()):
                heapq.heappush(heap, (-value, -summed, partner, formed))
        formed += 1
    return cluster_of


def decide_on_pairs(pairs, threshold, identities, labels=None):
    """``(cluster labels, core.decisions.Decisions)`` of the images ``identities`` covers
    from their stored scored ``pairs`` (row indices; pairs touching an identical copy count
    for its picture): groups by ``score_groups`` over one item per picture, identical
    images in their picture's group, then the keep / redundant / influential rule with the
    group's prototype most similar on average to the others kept."""
    n = len(identities)
    canonical = identities.canonical
    pairs = _per_picture(pairs, canonical, n)
    matrix = score_matrix(n, pairs)
    cluster_labels = score_groups(n, pairs, threshold, matrix)[canonical]
    return cluster_labels, decide(cluster_labels, picture_centrality(matrix, canonical, threshold), labels)


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


def picture_centrality(matrix, canonical, threshold=None):
    """Centrality (``core.decisions.decide``): keep the member with the highest mean score
    with the other members, identical members scoring 1 with each other, computed over
    the group's distinct pictures weighted by their copies. With ``threshold``, only a
    prototype of the group (a member scoring at or above it with every other member) can
    be kept where the group has one, as every group of ``score_groups`` has."""

    def centrality(members):
        pictures, position, copies = np.unique(canonical[members], return_inverse=True, return_counts=True)
        block = np.clip(submatrix(matrix, pictures), 0, 1)
        np.fill_diagonal(block, 1)
        mean = ((block @ copies)[position] - 1) / (len(members) - 1)
        if threshold is None:
            return int(np.argmax(mean)), mean
        prototype = block.min(axis=1)[position] >= _at_cut(threshold)
        return int(np.argmax(np.where(prototype, mean, -np.inf) if prototype.any() else mean)), mean

    return centrality
