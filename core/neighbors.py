"""All pairs of rows within a radius, without an n x n matrix.

CPU: project the rows onto their top principal axes and find candidate pairs with a k-d
tree in that low-dimensional space. An orthogonal projection never lengthens a distance,
so every true pair is a candidate; candidates are then checked in full dimension. GPU
(torch, CUDA): blocked matrix products over all rows (``core.arrays``, as the nearest-
neighbour searches below, which run on torch or numpy). Both end with the same float64
check on the CPU, so they return the same pairs.
"""

import numpy as np
from scipy.spatial import cKDTree

from .arrays import arrays, to_numpy
from .devices import resolve_device
from .streaming import DiskRows, column_means, gram, in_memory, row_chunks, take_rows

PROJECTED_DIMENSIONS = 6  # fastest on CIFAR-10 (50,000 x 191): 0.3 s, 32k candidates
MAX_CANDIDATES = 20_000_000
BLOCK_ROWS = 4096
CHECK_PAIRS = 65_536
"""Candidate pairs measured in full dimension at a time."""
BUFFER_VALUES = 2**28
"""The k-NN searches' product blocks hold at most this many float32 values (1 GiB)."""


def radius_pairs(points, radius, device=None):
    """Index pairs ``(i, j)``, ``i < j``, with ``||points[i] - points[j]|| <= radius``.
    ``points`` may be a ``streaming.DiskRows`` (float64): the CPU search then reads it
    by chunks and checks the candidates by batches of rows."""
    if not isinstance(points, DiskRows):
        points = np.asarray(points, dtype=np.float64)
    if len(points) < 2:
        return np.empty((0, 2), dtype=np.int64)
    if resolve_device(device) == "cuda":
        candidates = _blocked_candidates(in_memory(points), radius, "cuda")
    else:
        candidates = _projected_candidates(points, radius)
        if candidates is None:  # too clustered for the tree: exact blocked search
            candidates = _blocked_candidates(in_memory(points), radius, "cpu")
    within = np.zeros(len(candidates), dtype=bool)
    for start in range(0, len(candidates), CHECK_PAIRS):
        batch = candidates[start : start + CHECK_PAIRS]
        apart = np.linalg.norm(take_rows(points, batch[:, 0]) - take_rows(points, batch[:, 1]), axis=1)
        within[start : start + CHECK_PAIRS] = apart <= radius
    return candidates[within]


def _projected_candidates(points, radius):
    mean = column_means(points)
    dimensions = min(PROJECTED_DIMENSIONS, points.shape[1])
    _, axes = np.linalg.eigh(gram(points, mean))
    top = axes[:, ::-1][:, :dimensions]
    projected = np.concatenate([(chunk - mean) @ top for _, chunk in row_chunks(points)])
    projected = np.ascontiguousarray(projected)
    tree = cKDTree(projected)
    # estimate first, from a sample: a set where most rows are close would yield ~n^2 pairs
    sample = np.random.default_rng(0).choice(len(points), min(len(points), 1000), replace=False)
    per_row = tree.query_ball_point(projected[sample], radius, return_length=True).mean() - 1
    if per_row * len(points) / 2 > MAX_CANDIDATES:
        return None
    return tree.query_pairs(radius, output_type="ndarray").astype(np.int64)


def _blocked_candidates(points, radius, device):
    """Pairs within ``radius`` (slightly widened for float32) by blocks of row products."""
    xp = arrays(device)
    rows = xp.asarray(points)
    squared_norms = (rows * rows).sum(axis=1)
    widened = (radius * (1 + 1e-3) + 1e-6) ** 2
    found = []
    for start in range(0, len(rows), BLOCK_ROWS):
        block = rows[start : start + BLOCK_ROWS]
        squared = squared_norms[start : start + BLOCK_ROWS, None] + squared_norms[None] - 2 * block @ rows.T
        i, j = xp.nonzero(squared <= widened)
        i = i + start
        keep = i < j
        found.append(np.stack([to_numpy(i[keep]), to_numpy(j[keep])], axis=1))
    return np.concatenate(found).astype(np.int64)


def nearest_rows(queries, rows, k, device=None, exclude=None):
    """Indices ``(len(queries), k)`` of the rows nearest each query row (Euclidean),
    nearest first, in float32: by blocks of products ``q . x - |x|^2 / 2`` (the bias
    added inside the product, into one reused buffer: 2.4x less CPU than a product and a
    subtraction), at most ``BUFFER_VALUES`` at a time, never a full matrix. On a GPU
    when ``device`` picks one. ``exclude(xp, scores, start)`` sets to -inf the scores of
    the block of queries from ``start`` that may not be neighbours (``own_row``)."""
    xp = arrays(device)
    index_rows = xp.asarray(rows)
    query_rows = index_rows if queries is rows else xp.asarray(queries)
    negative_half_norms = -0.5 * (index_rows * index_rows).sum(axis=1)
    found = np.empty((len(queries), k), dtype=np.int64)
    with xp.inference():
        step = _block_rows(len(rows))
        buffer = xp.empty((min(step, len(queries)), len(rows)))
        for start in range(0, len(queries), step):
            block = query_rows[start : start + step]
            scores = xp.add_product(negative_half_norms, block, index_rows.T, out=buffer[: len(block)])
            if exclude is not None:
                exclude(xp, scores, start)
            found[start : start + step] = to_numpy(xp.top_k(scores, k))
    return found


def own_row(xp, scores, start):
    """``nearest_rows``'s ``exclude`` where the queries are the rows: none is its own
    neighbour."""
    own = xp.arange(len(scores))
    scores[own, start + own] = -np.inf


def nearest_neighbors(points, k, device=None, spare=4, queries=None):
    """Each row's ``k`` nearest other rows (Euclidean), or with ``queries`` each query's
    ``k`` nearest rows, exact: ``(indices, distances)``, each (n, k), nearest first, ties
    by index. ``nearest_rows`` shortlists ``k + spare`` per row in float32; the shortlist
    is measured again in float64 on the CPU, so every device and array library gives the
    same neighbours unless float32 rounding reorders rows more than ``spare`` deep."""
    points = np.asarray(points, dtype=np.float64)
    within = queries is None
    queries = points if within else np.asarray(queries, dtype=np.float64)
    k = min(k, len(points) - within)
    shortlist = min(k + spare, len(points) - within)
    found = nearest_rows(queries, points, shortlist, device, own_row if within else None)
    distances = np.empty(found.shape)
    step = _block_rows(len(points))
    for start in range(0, len(queries), step):
        rows = slice(start, start + step)
        distances[rows] = np.linalg.norm(queries[rows, None] - points[found[rows]], axis=2)
    order = np.lexsort((found, distances), axis=1)[:, :k]  # by distance, ties by index
    return np.take_along_axis(found, order, axis=1), np.take_along_axis(distances, order, axis=1)


def foreign_neighbors(points, component, k=1, device=None):
    """For each row outside the largest component (a label per row), its ``k`` nearest
    rows of other components, Euclidean: ``(rows, indices, distances)``, nearest first;
    one pass of blocked row products with a row's own component masked out. The edges
    that link a disconnected neighbour graph: the closest pair between each other
    component and the rest is among them."""
    points = np.asarray(points, dtype=np.float64)
    _, component, sizes = np.unique(component, return_inverse=True, return_counts=True)
    queries = np.flatnonzero(component != np.argmax(sizes))
    xp = arrays(device)
    labels, query_labels = xp.indices(component), xp.indices(component[queries])

    def own_component(xp, scores, start):
        xp.masked_fill(scores, query_labels[start : start + len(scores), None] == labels[None], -np.inf)

    found = nearest_rows(points[queries], points, k, device, own_component)
    return queries, found, np.linalg.norm(points[queries, None, :] - points[found], axis=2)


def _block_rows(n):
    return max(1, min(BLOCK_ROWS, BUFFER_VALUES // n))
