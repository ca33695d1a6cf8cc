"""Grouping of coefficient rows into clusters (Algorithm 1, step 4)."""

import numbers

import numpy as np
from sklearn.cluster import KMeans


def resolve_n_clusters(n_clusters, n_samples):
    """Turn ``n_clusters`` given as a count (int) or a fraction of ``n_samples`` (float in
    (0, 1]) into a count between 1 and ``n_samples``."""
    if isinstance(n_clusters, bool) or not isinstance(n_clusters, numbers.Real):
        raise ValueError(f"n_clusters must be a count or a fraction, got {n_clusters!r}")
    if isinstance(n_clusters, numbers.Integral):
        count = int(n_clusters)
        if not 1 <= count <= n_samples:
            raise ValueError(
                f"n_clusters={count} must be between 1 and the number of samples "
                f"({n_samples}); pass a fraction such as 0.9 to scale with the view"
            )
        return count
    if not 0 < n_clusters <= 1:
        raise ValueError(f"a fractional n_clusters must be in (0, 1], got {n_clusters}")
    return max(1, min(n_samples, int(round(n_clusters * n_samples))))


def kmeans_clusters(features, n_clusters, random_state=0):
    """Cluster label per row by k-means with ``n_clusters`` (count or fraction), k-means++
    seeding. The paper's procedure: exact, but costly when ``n_clusters`` is close to n."""
    features = np.asarray(features)
    count = resolve_n_clusters(n_clusters, len(features))
    model = KMeans(n_clusters=count, n_init=1, random_state=random_state)
    return model.fit_predict(features)


def unit_rows(features):
    """Rows scaled to unit length (zero rows stay zero), so distances compare patterns,
    not overall magnitude, and a threshold means the same on every dataset."""
    features = np.asarray(features, dtype=np.float64)
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    return np.divide(features, norms, out=np.zeros_like(features), where=norms > 0)


def threshold_clusters(features, threshold, device=None):
    """Cluster label per row: rows whose unit-length vectors lie within ``threshold``
    (Euclidean; ``threshold**2 / 2`` is one minus their cosine) of every other member.

    Neighbours within ``threshold`` (``neighbors.radius_pairs``: a k-d tree on the CPU,
    blocked products on a GPU, the same pairs either way) are cut by complete linkage.
    ``features`` may be a ``streaming.DiskRows`` (its unit rows go to a file beside it).
    """
    from scipy.spatial.distance import pdist

    from .neighbors import radius_pairs
    from .streaming import map_rows, take_rows

    if threshold <= 0:
        raise ValueError(f"threshold must be positive, got {threshold}")
    points = map_rows(features, unit_rows)
    pairs = radius_pairs(points, threshold, device)
    return linkage_groups(len(points), pairs, threshold, lambda members: pdist(take_rows(points, members)))


def linkage_groups(n, pairs, threshold, member_distances, max_component=20000):
    """Cluster label per item (named by its first member) from the ``pairs`` known to be
    within ``threshold``: each connected component of that sparse graph is cut by complete
    linkage at ``threshold``, so chains of near neighbours do not merge unrelated items
    (it joins two clusters only when every pair between them is within the threshold, so
    no group spans two components). ``member_distances(members)`` returns the condensed
    distances within one component.
    """
    from scipy.cluster.hierarchy import fcluster, linkage

    def cut(members):
        if len(members) > max_component:
            raise ValueError(
                f"{len(members)} images are chained within threshold={threshold}; "
                "use a stricter threshold"
            )
        return fcluster(linkage(member_distances(members), method="complete"), t=threshold, criterion="distance")

    return component_groups(connected(n, pairs), cut)


def connected(n, pairs):
    """The connected component of each of ``n`` items in the graph of ``pairs`` (k, 2)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def component_groups(component, cluster):
    """Cluster label per item (named by its first member): each ``component`` (from
    ``connected``) of two or more items clustered by ``cluster(members) -> local labels``;
    an item alone is its own cluster."""
    labels = np.arange(len(component))
    order = np.argsort(component, kind="stable")
    sizes = np.bincount(component)
    for members in np.split(order, np.cumsum(sizes)[:-1]):
        if len(members) > 1:
            labels[members] = named_by_first_member(members, cluster(members))
    return labels


def named_by_first_member(members, local_labels):
    """Global cluster labels for ``members`` clustered locally: each cluster is named by
    the index of its first member, so labels from separate runs never collide."""
    _, first, inverse = np.unique(local_labels, return_index=True, return_inverse=True)
    return np.asarray(members)[first][inverse]
