"""HDBSCAN's GLOSH outlier scores (the thesis method, step 3) from a k-NN graph.

The ``hdbscan`` package builds the minimum spanning tree of the mutual-reachability graph
with k-d tree Boruvka, which degrades in 50 dimensions (47 s at 50,000 CIFAR images).
Here the tree is built over each row's nearest neighbours (exact, by blocks of row
products, on a GPU when there is one), plus, where those fall apart into components, each
row's nearest rows in other components, and handed to ``hdbscan``'s own single-linkage labelling, tree condensing and GLOSH, so
the scores are HDBSCAN's wherever the tree's edges are among those neighbours (as
``hdbscan``'s default ``approx_min_span_tree`` already does, the tree may differ in its
longest edges between far clusters, which decide no outlier's score in practice).
"""

import numpy as np

from .neighbors import foreign_neighbors, nearest_neighbors

GRAPH_NEIGHBORS = 15
"""Neighbours per row in the graph the spanning tree is found in (at least min_samples)."""
FOREIGN_NEIGHBORS = 3
"""Where that graph falls apart: each row's nearest rows in other components (rows of
the largest component excepted) join it."""


def outlier_scores(points, min_cluster_size=5, min_samples=None, device=None):
    """GLOSH outlier score per row (higher: more of an outlier), as
    ``hdbscan.HDBSCAN(min_cluster_size, min_samples).outlier_scores_`` (NaN as 0)."""
    from hdbscan._hdbscan_linkage import label
    from hdbscan._hdbscan_tree import condense_tree, outlier_scores as glosh
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components, minimum_spanning_tree

    points = np.asarray(points, dtype=np.float64)
    n = len(points)
    min_samples = min_cluster_size if min_samples is None else min_samples
    if n <= min_cluster_size:
        return np.zeros(n)
    neighbors, distances = nearest_neighbors(points, max(GRAPH_NEIGHBORS, min_samples), device)
    core = distances[:, min(min_samples, neighbors.shape[1]) - 1]  # hdbscan counts the row itself
    rows = np.repeat(np.arange(n), neighbors.shape[1])
    columns = neighbors.reshape(-1)
    reach = np.maximum(np.maximum(core[rows], core[columns]), distances.reshape(-1))
    while True:
        # + 1: a spanning tree is unchanged by a constant, and sparse graphs drop zero weights
        graph = coo_matrix((reach + 1.0, (rows, columns)), shape=(n, n)).tocsr()
        tree = minimum_spanning_tree(graph).tocoo()
        n_components, component = connected_components(tree, directed=False)
        if n_components == 1:
            break
        queries, found, apart = foreign_neighbors(points, component, FOREIGN_NEIGHBORS, device)
        first, second = np.repeat(queries, found.shape[1]), found.reshape(-1)
        rows, columns = np.concatenate([tree.row, first]), np.concatenate([tree.col, second])
        reach = np.concatenate([tree.data - 1.0, np.maximum(np.maximum(core[first], core[second]), apart.reshape(-1))])
    edges = np.stack([tree.row, tree.col, tree.data - 1.0], axis=1)
    edges = edges[np.argsort(edges[:, 2], kind="stable")]
    scores = glosh(condense_tree(label(edges), min_cluster_size))
    return np.nan_to_num(scores, nan=0.0)
