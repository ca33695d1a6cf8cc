"""Candidate pairs: each image's nearest neighbours by every descriptor (an exact blocked
search, or an inverted-file index past ``EXACT_SEARCH_ROWS``), within one image set or
across two, and the gates a candidate passes before it is verified. A candidate source
can miss a pair but never create one: every candidate is verified."""

import numpy as np

from ..neighbors import nearest_neighbors as exact_neighbors
from ..streaming import column_means, gram, in_memory, row_chunks, subset, take_rows
from .descriptors import fourier_descriptor

CANDIDATE_GATES = (0.6, 0.9)
"""Within one image set, a candidate pair is verified when its wavelet cosine reaches 0.6
or its Fourier cosine 0.9, or when its Fourier cosine is the highest of either image's:
on the realistic-edit benchmark this keeps 99% of the true copies' pairs short of heavy
crops and 47% of all candidates (train-vs-test candidates are all verified)."""
SEARCH_DIMENSIONS = 32
PROJECTED_ABOVE = 96
"""Descriptors with more values than ``PROJECTED_ABOVE`` (wavelet coefficients,
embeddings) are searched in their top ``SEARCH_DIMENSIONS`` principal axes; the Fourier
descriptor (91 values) is searched as it is, which finds twice as many copies shifted by
4 pixels at 32 (the search's cost is in ranking the rows, not in their length)."""
EXACT_SEARCH_ROWS = 100_000
"""Up to this many images the candidates are each image's exact nearest neighbours (a
blocked search over all pairs); past it they come from an inverted-file index (faiss),
whose cost grows with n^1.5 instead of n^2: a million images take minutes, not hours."""
INVERTED_LISTS_PER_ROOT = 2
"""The index has ``2 sqrt(n)`` lists (2,000 at a million images)..."""
PROBED_LISTS = 8
"""...of which each query searches the 8 whose centres are nearest (16 took 70 s more at
a million images, most of it the 91-value Fourier search)."""
TRAINING_PER_LIST = 50
"""Rows per list the index's k-means centres are trained on (a random sample)."""
FAISS_MISSING = (
    "the pair score's candidate search past {rows:,} images needs faiss: pip install faiss-cpu "
    "(a dependency of fiftyone-redundancy), or pass a similarity_backend"
)


def within_candidates(descriptor_sets, n_neighbors, groups=None, device=None, search=None, rows=None):
    """Unique candidate pairs ``(first, second)``, first < second, within one image set:
    each image with its ``n_neighbors`` nearest by every descriptor. With ``groups``
    (e.g. classes) only pairs within a group; with ``rows`` only among those images (one
    per picture: ``families.Identities.scored``). ``search(members, rows, k)`` (rows of
    ``members``; returns each row's ``k`` nearest other rows as positions in ``members``)
    replaces the default search (``nearest_neighbors``), e.g. with a vector index
    (``bridge.similarity``). Descriptors may be ``streaming.DiskRows``."""
    n = len(descriptor_sets[0])
    if search is None:

        def search(members, rows, k):
            return nearest_neighbors(rows, k, device)

    def search_set(descriptors, queries, members, k):
        return search(members, descriptors if len(members) == n else subset(descriptors, members), k)

    sides = [(members, members) for members in _group_members(n, groups, rows)]
    return _candidate_pairs(descriptor_sets, sides, n_neighbors, search_set, within=True)


def cross_candidates(query_sets, index_sets, n_neighbors, query_groups=None, index_groups=None, device=None,
                     search=None):  # fmt: skip
    """Unique candidate pairs ``(query, index)`` between two image sets: each query image
    with its ``n_neighbors`` nearest index images by every descriptor, within its group.
    ``search(queries, members, rows, k)`` (query rows; rows of the index images
    ``members``; returns each query's ``k`` nearest rows as positions in ``members``)
    replaces the blocked search, e.g. with a vector index (``bridge.similarity``)."""
    if search is None:

        def search(queries, members, rows, k):
            return candidate_neighbors(queries, rows, k, device=device)

    def search_set(descriptors, queries, members, k):
        query_descriptors, index_descriptors = descriptors
        return search(query_descriptors[queries], members, index_descriptors[members], k)

    query_groups = np.zeros(len(query_sets[0]), dtype=object) if query_groups is None else np.asarray(query_groups, dtype=object)
    index_groups = np.zeros(len(index_sets[0]), dtype=object) if index_groups is None else np.asarray(index_groups, dtype=object)
    groups = np.unique(query_groups)
    sides = [(np.flatnonzero(query_groups == group), np.flatnonzero(index_groups == group)) for group in groups]
    return _candidate_pairs(list(zip(query_sets, index_sets)), sides, n_neighbors, search_set)


def _candidate_pairs(descriptor_sets, sides, n_neighbors, search_set, within=False):
    """The unique pairs ``(query, member)`` of each group's ``(queries, members)`` in
    ``sides``: each query with its ``n_neighbors`` nearest members (a group without
    members has none) by every descriptor, ``search_set(descriptors, queries, members,
    k)`` answering positions in ``members``. The one search of ``within_candidates`` and
    ``cross_candidates``; ``within`` (both sides one set): no image with itself, and each
    pair once, as ``(first, second)``, first < second."""
    pairs = []
    for queries, members in sides:
        if not len(members):
            continue
        for descriptors in descriptor_sets:
            neighbors = search_set(descriptors, queries, members, n_neighbors)
            first = np.repeat(queries, neighbors.shape[1])
            second = members[neighbors.reshape(-1)]
            if within:
                distinct = first != second
                first, second = first[distinct], second[distinct]
                first, second = np.minimum(first, second), np.maximum(first, second)
            pairs.append(np.stack([first, second], axis=1))
    return _unique_pairs(pairs)


def _group_members(n, groups, rows=None):
    """The images of each group (all images: one group), among ``rows`` when given."""
    allowed = np.ones(n, dtype=bool)
    if rows is not None:
        allowed[:] = False
        allowed[rows] = True
    if groups is None:
        return [np.flatnonzero(allowed)]
    groups = np.asarray(groups, dtype=object)
    return [np.flatnonzero((groups == group) & allowed) for group in np.unique(groups)]


def _same_group(pairs, first_groups, second_groups):
    """The pairs whose items share a group (all of them when neither side has groups)."""
    if first_groups is None and second_groups is None:
        return pairs
    first = np.zeros(pairs[:, 0].max(initial=0) + 1, dtype=object) if first_groups is None else np.asarray(first_groups, dtype=object)
    second = np.zeros(pairs[:, 1].max(initial=0) + 1, dtype=object) if second_groups is None else np.asarray(second_groups, dtype=object)
    return pairs[first[pairs[:, 0]] == second[pairs[:, 1]]]


def _unique_pairs(pairs):
    """The distinct rows of the ``(first, second)`` arrays ``pairs``, sorted, found as one
    int64 key per pair (``np.unique(axis=0)`` takes several times the memory: a gigabyte
    for a million images' 20 million candidates)."""
    pairs = np.concatenate(pairs).astype(np.int64) if pairs else np.empty((0, 2), dtype=np.int64)
    if not len(pairs):
        return pairs.reshape(0, 2)
    width = int(pairs.max()) + 1
    keys = np.unique(pairs[:, 0] * width + pairs[:, 1])
    return np.stack([keys // width, keys % width], axis=1)


def pair_cosines(rows, pairs, chunk=16384):
    """Dot products of the unit ``rows`` (an array or a ``streaming.DiskRows``) of each
    pair, by chunks: gathering both sides of a million pairs at once would copy
    gigabytes."""
    cosines = np.empty(len(pairs), dtype=np.float32)
    for start in range(0, len(pairs), chunk):
        part = pairs[start : start + chunk]
        cosines[start : start + chunk] = np.einsum("ij,ij->i", take_rows(rows, part[:, 0]), take_rows(rows, part[:, 1]))
    return cosines


def _passes_gates(pairs, sets):
    """Candidates worth verifying: a descriptor cosine at or above its ``CANDIDATE_GATES``
    entry, or the highest Fourier cosine among either image's candidates (a copy shifted
    by 4 pixels at 32 often is its original's best by the Fourier descriptor at a cosine
    below the gate; taken from the cosines, so it does not depend on how a search orders
    ties); an embeddings space, when given, passes every pair it proposed."""
    keep = np.zeros(len(pairs), dtype=bool)
    cosines = []
    for descriptors, gate in zip(sets, (*CANDIDATE_GATES, -np.inf)):
        cosines.append(pair_cosines(descriptors, pairs))
        keep |= cosines[-1] >= gate
    fourier = cosines[1]
    best = np.full(int(pairs.max(initial=-1)) + 1, -np.inf)
    for side in (pairs[:, 0], pairs[:, 1]):
        np.maximum.at(best, side, fourier)
    return keep | (fourier >= best[pairs[:, 0]]) | (fourier >= best[pairs[:, 1]])


def framed_candidates(frames, index_fourier, n_neighbors, device=None, within=False, rows=None):
    """Candidate pairs ``(framed image, index row)``: each framed image's ``n_neighbors``
    nearest rows of ``index_fourier`` (``fourier_descriptor`` of the other set, or of the
    framed images' own set when ``within``; only ``rows`` of it when given) by its Fourier
    descriptor with the frame trimmed. ``frames``: ``(framed, trimmed)`` from
    ``trim_frames``, or None (no candidates)."""
    if frames is None or not len(frames[0]):
        return np.empty((0, 2), dtype=np.int64)
    framed, trimmed = frames
    index = index_fourier if rows is None else subset(index_fourier, rows)
    neighbors = nearest_neighbors(index, n_neighbors + within, device, queries=fourier_descriptor(trimmed))
    if rows is not None:
        neighbors = np.asarray(rows)[neighbors]
    pairs = np.stack([np.repeat(framed, neighbors.shape[1]), neighbors.reshape(-1)], axis=1)
    return pairs[pairs[:, 0] != pairs[:, 1]] if within else pairs


def frames_among(frames, rows):
    """``trim_frames``'s ``(framed, trimmed)`` of only the images ``rows``."""
    if frames is None:
        return None
    framed, trimmed = frames
    keep = np.isin(framed, rows)
    return framed[keep], trimmed[keep]


def nearest_neighbors(rows, n_neighbors, device=None, queries=None):
    """Indices ``(len(rows), n_neighbors)`` of each row's nearest other rows (an array or
    a ``streaming.DiskRows``), or with ``queries`` (an array) of each query's nearest
    rows: exact up to ``EXACT_SEARCH_ROWS`` rows (``candidate_neighbors``), approximate
    past it (``inverted_file_neighbors``)."""
    if len(rows) <= EXACT_SEARCH_ROWS:
        rows = in_memory(rows)
        if queries is None:
            return candidate_neighbors(rows, rows, n_neighbors, exclude_self=True, device=device)
        return candidate_neighbors(queries, rows, n_neighbors, device=device)
    return inverted_file_neighbors(rows, n_neighbors, queries)


def candidate_neighbors(queries, index, n_neighbors, exclude_self=False, device=None):
    """Indices ``(len(queries), n_neighbors)`` of the rows of ``index`` nearest each query
    row (Euclidean; on unit rows, the highest cosine), in the top ``SEARCH_DIMENSIONS``
    principal axes of ``index`` when rows are longer than ``PROJECTED_ABOVE``
    (``_search_projection``), by blocks of matrix products (``neighbors.nearest_neighbors``:
    torch or numpy, on a GPU when ``device`` picks one, ties by index); never an n x n
    matrix. ``exclude_self``: ``queries`` are the rows of ``index``, none its own
    neighbour. The projection makes the search approximate, which only risks a missed
    candidate: every candidate is verified."""
    count = min(n_neighbors, len(index) - (1 if exclude_self else 0))
    if count <= 0:
        return np.empty((len(queries), 0), dtype=np.int64)
    project = _search_projection(index)
    rows = project(in_memory(index))
    return exact_neighbors(rows, count, device, queries=None if exclude_self else project(queries))[0]


def inverted_file_neighbors(rows, n_neighbors, queries=None):
    """``nearest_neighbors`` through a faiss inverted-file index (IVF, exact distances
    within the ``PROBED_LISTS`` lists nearest each query), filled and asked by chunks of
    the rows (an array or a ``streaming.DiskRows``), in the same principal axes as the
    exact search. Without ``queries`` each row asks for its nearest others, and a row
    that finds fewer than ``n_neighbors`` names itself in the rest (a query, its nearest
    row). Approximate: a true neighbour in an unprobed list is missed, which only costs a
    candidate (every candidate is verified)."""
    try:
        import faiss
    except ImportError as error:
        raise ImportError(FAISS_MISSING.format(rows=EXACT_SEARCH_ROWS)) from error

    n = len(rows)
    project = _search_projection(rows)
    lists = max(1, int(INVERTED_LISTS_PER_ROOT * np.sqrt(n)))
    sample = np.sort(np.random.default_rng(0).choice(n, min(n, TRAINING_PER_LIST * lists), replace=False))
    training = project(take_rows(rows, sample))
    index = faiss.IndexIVFFlat(faiss.IndexFlatL2(training.shape[1]), training.shape[1], lists)
    index.train(training)
    del training
    for _, chunk in row_chunks(rows):
        index.add(project(chunk))
    index.nprobe = PROBED_LISTS
    if queries is not None:
        _, found = index.search(project(queries), n_neighbors)
        return np.where(found < 0, found[:, :1], found)  # fewer found than asked: the nearest again
    found = np.empty((n, n_neighbors), dtype=np.int64)
    for start, chunk in row_chunks(rows):
        _, neighbors = index.search(project(chunk), n_neighbors + 1)
        own = np.arange(start, start + len(chunk))[:, None]
        neighbors = np.where(neighbors < 0, own, neighbors)
        others_first = np.argsort(neighbors == own, axis=1, kind="stable")
        found[start : start + len(chunk)] = np.take_along_axis(neighbors, others_first, axis=1)[:, :n_neighbors]
    return found


def _search_projection(rows):
    """The map of rows (chunks) into the space both searches rank them in: the top
    ``SEARCH_DIMENSIONS`` principal axes of ``rows`` (an array or a ``streaming.DiskRows``;
    the scatter summed by chunks) when they are longer than ``PROJECTED_ABOVE``, else the
    rows as float32."""
    dimensions = rows.shape[1]
    if dimensions <= PROJECTED_ABOVE or len(rows) <= SEARCH_DIMENSIONS:
        return lambda chunk: np.ascontiguousarray(chunk, dtype=np.float32)
    centre = column_means(rows)
    _, axes = np.linalg.eigh(gram(rows, centre) / max(1, len(rows) - 1))
    axes = axes[:, ::-1][:, :SEARCH_DIMENSIONS].astype(np.float32)
    centre = centre.astype(np.float32)
    return lambda chunk: np.ascontiguousarray((np.asarray(chunk, dtype=np.float32) - centre) @ axes)
