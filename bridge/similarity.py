"""Candidate search through fiftyone-brain similarity indexes (``compute_similarity(...,
backend=...)``): the embedded scikit-learn index for small data, LanceDB on disk past
memory, or the servers a team already runs (Milvus, Qdrant, pgvector, Elasticsearch),
configured as FiftyOne users configure them (brain config ``similarity_backends``).

An index only proposes candidates: every candidate is verified by the pair score, so an
approximate index may miss a pair but never creates one. The index is built for one
analysis, on the pair score's descriptors, without a brain key (no brain run is stored on
the dataset), and its table is dropped when the search ends.
"""

from ..core.parameters import check_names
from ..core.streaming import in_memory

PLUGIN_SETTINGS = ("self", "kwargs", "metric")
"""Index settings the plugin sets itself (the metric is Euclidean: see ``_index_neighbors``)."""


def check_index_config(backend, index_config):
    """Refuse, before any work, ``similarity_config`` settings the backend's index would
    not take (naming its settings and the close one), or settings without a backend."""
    if index_config is None:
        return
    if backend is None:
        raise ValueError("similarity_config holds a backend's settings: give similarity_backend too, or leave it out")
    valid = _backend_settings(backend)
    check_names("similarity_config", index_config, valid if valid is not None else list(index_config))


def _backend_settings(backend):
    """The settings ``backend``'s config takes, or None when it cannot be told here (an
    unknown backend, or one whose client is not installed: the brain says so itself)."""
    import inspect

    import eta.core.utils as etau

    import fiftyone.brain as fob

    entry = fob.brain_config.similarity_backends.get(backend)
    try:
        config = etau.get_class(entry["config_cls"])
    except (ImportError, TypeError, KeyError, AttributeError):
        return None
    return sorted(set(inspect.signature(config.__init__).parameters) - set(PLUGIN_SETTINGS))


def index_search(samples, sample_ids, backend, index_config=None):
    """A ``search(members, rows, k)`` for ``core.pair_score.within_candidates`` that
    indexes ``rows`` (one per sample ``sample_ids[m]`` of ``members``) in a brain
    similarity index of ``backend`` (``index_config``: that backend's settings, e.g.
    ``uri`` for LanceDB; otherwise the brain config's) and asks it for each row's
    ``k`` nearest other rows (Euclidean; rows on disk are read whole). None for no
    ``backend``: the pair score's own search (``core.pair_score.nearest_neighbors``)."""
    if backend is None:
        return None
    index_config = index_config or {}

    def search(members, rows, k):
        ids = [sample_ids[m] for m in members]
        rows = in_memory(rows)
        return _index_neighbors(samples, ids, rows, rows, min(k, len(ids) - 1), backend, index_config, True)

    return search


def index_cross_search(samples, index_ids, backend, index_config=None):
    """A ``search(queries, members, rows, k)`` for ``core.pair_score.cross_candidates``
    (train vs test): ``rows`` (one per sample ``index_ids[m]`` of ``members``) go into a
    brain similarity index of ``backend``, asked for each query row's ``k`` nearest
    (Euclidean); settings and None as ``index_search``."""
    if backend is None:
        return None
    index_config = index_config or {}

    def search(queries, members, rows, k):
        ids = [index_ids[m] for m in members]
        return _index_neighbors(samples, ids, rows, queries, min(k, len(ids)), backend, index_config, False)

    return search


def _index_neighbors(samples, ids, rows, queries, count, backend, index_config, exclude_self):
    """Positions in ``ids`` of each query's ``count`` nearest ``rows``, found by an index
    of ``rows`` under the samples ``ids`` (the query at position i is row i itself, and
    not its own neighbour, when ``exclude_self``)."""
    import numpy as np

    import fiftyone.brain as fob

    if count <= 0:
        return np.empty((len(queries), 0), dtype=np.int64)
    index = fob.compute_similarity(
        samples.select(ids, ordered=True),
        embeddings=np.asarray(rows, dtype=np.float32),
        backend=backend,
        metric="euclidean",
        progress=False,
        **index_config,
    )
    wanted = min(2 * count + exclude_self, len(ids))
    try:
        # the brain's batch k-NN query (what its own duplicate search uses), twice as
        # deep as needed: the nearest are then picked by exact distance, so that two
        # indexes that order near-ties their own way propose the same candidates
        found, _ = index._kneighbors(query=np.asarray(queries, dtype=np.float32), k=wanted)
    finally:
        index.cleanup()
    position = {sample_id: i for i, sample_id in enumerate(ids)}
    rows, queries = np.asarray(rows, dtype=np.float64), np.asarray(queries, dtype=np.float64)
    neighbors = np.empty((len(queries), count), dtype=np.int64)
    for query, nearest in enumerate(found):
        others = np.array([position[sample_id] for sample_id in nearest if not (exclude_self and position[sample_id] == query)])
        distances = np.round(((rows[others] - queries[query]) ** 2).sum(axis=1), 9)
        neighbors[query] = others[np.lexsort((others, distances))][:count]
    return neighbors
