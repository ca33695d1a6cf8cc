"""Verification in shards of ``SHARD_PAIRS`` pairs, as Ray tasks (``core.parallel``) or in
this process, for images on disk or an executor: within one image set or between two
(train vs test), one implementation. Each shard gets only the images its pairs touch and
scores them as one ``PairScorer`` per set would. In this process shards run one after
another (side by side each would hold its images: a million images' peak memory), and the
pairs of each side by side (``parallel.local_map``)."""

from dataclasses import dataclass

import numpy as np

from ..detail import reproductions as image_reproductions
from ..streaming import map_rows, take_rows
from .descriptors import coarse_wavelet_descriptor
from .scorer import PairScorer, aligned_baselines

SHARD_PAIRS = 16384
"""Pairs per Ray task when verification is distributed (at most 32,768 images to send)."""


@dataclass(frozen=True)
class ShardSide:
    """One image set as its shards read it: ``images`` (an array or a
    ``streaming.DiskRows``), ``embeddings`` (or None), the ``descriptor`` rows its scorer
    uses, and each image's aligned-similarity ``baselines`` and ``reproductions``,
    computed once for every shard (most of the time a shard would spend preparing its
    images, which shards touch again and again). ``shard_side`` makes one."""

    images: object
    embeddings: object
    descriptor: object
    baselines: object
    reproductions: object

    def rows(self, rows):
        """The values of the images ``rows``, as a shard's task carries them."""
        return (
            take_rows(self.images, rows), rows_of(self.embeddings, rows), take_rows(self.descriptor, rows),
            rows_of(self.baselines, rows), self.reproductions[rows],
        )  # fmt: skip


def shard_side(images, parameters, embeddings=None, descriptor=None):
    """The ``ShardSide`` of ``images`` (``descriptor`` None: the scorer's own,
    ``coarse_wavelet_descriptor``); every value in it is per image, so a shard's scorer of
    some of the images holds what a scorer of all of them would."""
    descriptor = scorer_descriptor(images, parameters, descriptor)
    return ShardSide(images, embeddings, descriptor, aligned_baselines(images, parameters), image_reproductions(images))


def verify_sharded(executor, parameters, pairs, query, index=None, progress=None):
    """``(scores, raw verified similarities)`` of ``pairs`` ``(query, index)`` between the
    ``ShardSide`` s ``query`` and ``index`` (None: pairs within ``query``), computed in
    shards of ``SHARD_PAIRS`` by ``executor`` (None: in this process), each made when it
    is asked for, as ``PairScorer.score_and_raw`` scores them in one process. Within one
    set a shard has one scorer of the images its pairs touch, so each is prepared once,
    and shards take the pairs in ``locality_order``, so that each touches few images."""
    within = index is None
    order = locality_order(pairs, len(query.images)) if within else np.arange(len(pairs))

    def tasks():
        for start in range(0, len(pairs), SHARD_PAIRS):
            query_rows, index_rows, local = touched_rows(pairs[order[start : start + SHARD_PAIRS]], within)
            yield parameters, query.rows(query_rows), None if within else index.rows(index_rows), local[:, 0], local[:, 1]

    scores, raw = np.empty(len(pairs)), np.empty(len(pairs))
    scored = _run_shards(executor, tasks(), len(pairs), progress)
    if scored:
        scores[order] = np.concatenate([shard_scores for shard_scores, _ in scored])
        raw[order] = np.concatenate([shard_raw for _, shard_raw in scored])
    return scores, raw


def locality_order(pairs, n):
    """An order of ``pairs`` (within ``n`` items) in which neighbouring pairs share items:
    by the reverse Cuthill-McKee rank (a breadth-first order of the pairs' graph) of the
    earlier of their two items. A shard of consecutive pairs then touches few images:
    each image a shard touches is read from the store and prepared again (standardised,
    its frame looked for)."""
    import scipy.sparse as sp
    from scipy.sparse.csgraph import reverse_cuthill_mckee

    if not len(pairs):
        return np.empty(0, dtype=np.int64)
    graph = sp.coo_matrix((np.ones(len(pairs), dtype=np.int8), (pairs[:, 0], pairs[:, 1])), shape=(n, n)).tocsr()
    rank = np.empty(n, dtype=np.int64)
    rank[reverse_cuthill_mckee(graph, symmetric_mode=False)] = np.arange(n)
    return np.argsort(np.minimum(rank[pairs[:, 0]], rank[pairs[:, 1]]), kind="stable")


def touched_rows(pairs, within):
    """``(query rows, index rows, local)``: the images ``pairs`` touch on each side, sorted,
    and the pairs as positions in them: what scorers of only those images need. ``within``
    (the pairs are of one set): one list of rows for both sides, so an image is prepared
    once."""
    if within:
        rows, local = np.unique(pairs, return_inverse=True)
        return rows, rows, local.reshape(pairs.shape)
    query_rows, query_local = np.unique(pairs[:, 0], return_inverse=True)
    index_rows, index_local = np.unique(pairs[:, 1], return_inverse=True)
    return query_rows, index_rows, np.stack([query_local, index_local], axis=1)


def rows_of(values, rows):
    """The rows of ``values`` (an array or a ``streaming.DiskRows``), or None for None."""
    return None if values is None else take_rows(values, rows)


def scorer_descriptor(images, parameters, descriptor):
    """``descriptor``, or the one ``PairScorer`` makes itself when it is None."""
    if descriptor is not None:
        return descriptor
    return map_rows(images, lambda chunk: coarse_wavelet_descriptor(np.asarray(chunk, dtype=np.float32), parameters.device))


def _run_shards(executor, tasks, n_pairs, progress):
    """The results of ``_score_shard`` over ``tasks`` (by ``executor``), in order, with
    ``progress(done, n_pairs)`` after each shard."""
    from ..parallel import run_map

    results = []
    for result in run_map(executor, _score_shard, tasks):
        results.append(result)
        if progress is not None:
            progress(min(len(results) * SHARD_PAIRS, n_pairs), n_pairs)
    return results


def _score_shard(task):
    """``(scores, raw)`` of one shard's pairs: ``index`` None, pairs within ``query``."""
    parameters, query, index, first, second = task
    query_scorer = _shard_scorer(query, parameters)
    index_scorer = None if index is None else _shard_scorer(index, parameters)
    return query_scorer.score_and_raw(first, second, index_scorer)


def _shard_scorer(values, parameters):
    images, embeddings, descriptor, baselines, reproductions = values
    return PairScorer(images, parameters, embeddings, descriptor=descriptor, baselines=baselines, reproductions=reproductions)
