"""Average-linkage cosine clustering (the thesis method, step 4) stopped at a number of
clusters: exact below ``GRAPH_ABOVE`` rows, on a k-NN graph above.

Above that size only neighbours in the k-NN graph merge, by scikit-learn's rule for
``AgglomerativeClustering(linkage="average", connectivity=...)``: the distance of a merged
cluster to a neighbour is the size-weighted mean of its parts' distances where both parts
have an edge to it, else the one edge's distance. Merging stops once ``n_clusters``
remain (a tenth of the rows merge at the default shares). A merged cluster keeps the
number of its part with more neighbours, so a merge touches only the other part's edges:
the large clusters that chained features form (4,228 images in one at 50,000 CIFAR
images) cost no more than small ones, where scikit-learn rebuilt a merged cluster's whole
neighbour list and queued all of its edges again at every merge (214 s there).
"""

import heapq

import numpy as np

from .clustering import named_by_first_member, unit_rows
from .neighbors import foreign_neighbors, nearest_neighbors

GRAPH_ABOVE = 2000
"""Up to this many rows, the exact average linkage (scikit-learn on scipy: an n x n
condensed distance matrix)."""


def average_linkage_clusters(points, n_clusters, n_neighbors=15, device=None):
    """Cluster label per row (named by its first member): cosine distance, average
    linkage, merged until ``n_clusters`` remain. Past ``GRAPH_ABOVE`` rows only each row's
    ``n_neighbors`` nearest by cosine (found on ``device``) start out linked; when those
    links run out first, each component is linked to its nearest other one."""
    points = unit_rows(points)
    n = len(points)
    if n_clusters >= n:
        return np.arange(n)
    if n_clusters <= 1:
        return np.zeros(n, dtype=np.int64)
    if n <= GRAPH_ABOVE:
        from sklearn.cluster import AgglomerativeClustering

        model = AgglomerativeClustering(n_clusters=n_clusters, metric="cosine", linkage="average")
        return named_by_first_member(np.arange(n), model.fit_predict(points))
    neighbors, _ = nearest_neighbors(points, n_neighbors, device)
    first = np.repeat(np.arange(n), neighbors.shape[1])
    second = neighbors.reshape(-1)
    pairs = np.unique(np.minimum(first, second) * n + np.maximum(first, second))
    edges = np.stack([pairs // n, pairs % n], axis=1)
    return named_by_first_member(np.arange(n), _graph_average_linkage(points, edges, n - n_clusters, device))


def _graph_average_linkage(points, edges, n_merges, device):
    """Cluster of each row (the number of a member row) after the first ``n_merges``
    merges of average linkage over ``edges`` (pairs of rows)."""
    n = len(points)
    distances = 1.0 - np.einsum("ij,ij->i", points[edges[:, 0]], points[edges[:, 1]])
    rows = np.concatenate([edges[:, 0], edges[:, 1]])
    order = np.argsort(rows, kind="stable")
    columns = np.concatenate([edges[:, 1], edges[:, 0]])[order].tolist()
    values = np.concatenate([distances, distances])[order].tolist()
    starts = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n))]).tolist()
    links = [dict(zip(columns[a:b], values[a:b])) for a, b in zip(starts[:-1], starts[1:])]
    heap = list(zip(distances.tolist(), edges[:, 0].tolist(), edges[:, 1].tolist()))
    heapq.heapify(heap)
    owner = list(range(n))  # a merged part points at the cluster that absorbed it
    sizes = [1] * n
    merges = 0
    while merges < n_merges:
        if not heap:
            heap = _joining_links(points, _roots(owner), links, device)
            continue
        distance, a, b = heapq.heappop(heap)
        if links[a] is None or links[b] is None or links[a].get(b) != distance:
            continue  # a part already merged, or a distance since changed
        if len(links[a]) < len(links[b]):
            a, b = b, a
        kept, absorbed = links[a], links[b]
        del kept[b], absorbed[a]
        size_a, size_b = sizes[a], sizes[b]
        for other, to_b in absorbed.items():
            to_a = kept.get(other)
            merged = to_b if to_a is None else (size_a * to_a + size_b * to_b) / (size_a + size_b)
            kept[other] = merged
            del links[other][b]
            links[other][a] = merged
            if merged != to_a:
                heapq.heappush(heap, (merged, a, other))
        links[b] = None
        owner[b] = a
        sizes[a] += size_b
        merges += 1
    return _roots(owner)


def _roots(owner):
    """The cluster (a row number) each row belongs to, following ``owner`` links."""
    roots = np.asarray(owner)
    while True:
        following = roots[roots]
        if np.array_equal(following, roots):
            return roots
        roots = following


def _joining_links(points, cluster, links, device):
    """When no link is left, every cluster is a whole component of the graph: link each
    (but the largest, which the others link to) to the cluster of its closest row
    outside it (that pair's cosine distance, as one edge counts in the rule above), as a
    fresh heap."""
    queries, found, apart = foreign_neighbors(points, cluster, 1, device)
    heap = []
    for node in np.unique(cluster[queries]).tolist():
        inside = np.flatnonzero(cluster[queries] == node)
        closest = inside[np.argmin(apart[inside, 0])]
        a, b = queries[closest], found[closest, 0]
        other = int(cluster[b])
        if other not in links[node]:
            distance = float(1.0 - points[a] @ points[b])
            links[node][other] = links[other][node] = distance
            heap.append((distance, node, other))
    heapq.heapify(heap)
    return heap
