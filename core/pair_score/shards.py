"""Verification in shards of ``SHARD_PAIRS`` pairs, as Ray tasks (``core.parallel``) or in
this process, for images on disk or an executor: each shard gets only the images its
pairs touch and scores them as one ``PairScorer`` over the whole set would."""

import numpy as np

from ..detail import reproductions as image_reproductions
from ..streaming import map_rows, take_rows
from .descriptors import coarse_wavelet_descriptor
from .scorer import PairScorer, aligned_baselines

SHARD_PAIRS = 16384
"""Pairs per Ray task when verification is distributed (at most 32,768 images to send)."""


def shard_preparation(images, parameters, descriptor=None):
    """What every shard of ``images`` reads instead of computing it again:
    ``(descriptor, baselines, reproductions)`` (``descriptor`` None: the scorer's own,
    ``coarse_wavelet_descriptor``)."""
    descriptor = scorer_descriptor(images, parameters, descriptor)
    return descriptor, aligned_baselines(images, parameters), image_reproductions(images)


def verify_sharded(executor, images, parameters, embeddings, descriptor, pairs, progress=None, prepared=None):
    """Pair scores of ``pairs`` computed in shards of ``SHARD_PAIRS`` by ``executor`` (None:
    in this process): each shard gets the images (descriptor rows, embeddings, each
    image's own values) its pairs touch, read when it is made (``images`` and
    ``descriptor`` may be ``streaming.DiskRows``), and scores them as ``PairScorer`` does
    in one process. Everything a score uses is per image, so a shard scores a pair as the
    whole set would; ``prepared`` (``shard_preparation``) is computed here when not given.
    Shards take the pairs in ``locality_order``, so that each touches few images."""
    descriptor, baselines, reproductions = prepared or shard_preparation(images, parameters, descriptor)
    order = locality_order(pairs, len(images))

    def tasks():
        for start in range(0, len(pairs), SHARD_PAIRS):
            rows, local = touched_rows(pairs[order[start : start + SHARD_PAIRS]])
            yield (
                take_rows(images, rows), parameters, rows_of(embeddings, rows), take_rows(descriptor, rows),
                rows_of(baselines, rows), reproductions[rows], local[:, 0], local[:, 1],
            )  # fmt: skip

    scores = np.empty(len(pairs))
    scores[order] = np.concatenate(_run_shards(executor, _score_shard, tasks(), len(pairs), progress) or [np.empty(0)])
    return scores


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


def verify_sharded_across(executor, query_images, index_images, parameters, query_embeddings, index_embeddings,
                          query_descriptor, index_descriptor, pairs, progress=None):  # fmt: skip
    """``verify_sharded`` for pairs ``(query, index)`` between two image sets: ``(scores,
    raw verified similarities)``, each shard sent the query and index images its pairs
    touch (made as they are asked for), scored as ``PairScorer.score_and_raw`` scores them
    in one process."""
    query_descriptor = scorer_descriptor(query_images, parameters, query_descriptor)
    index_descriptor = scorer_descriptor(index_images, parameters, index_descriptor)

    def tasks():
        for start in range(0, len(pairs), SHARD_PAIRS):
            shard = pairs[start : start + SHARD_PAIRS]
            query_rows, query_local = np.unique(shard[:, 0], return_inverse=True)
            index_rows, index_local = np.unique(shard[:, 1], return_inverse=True)
            yield (
                rows_of(query_images, query_rows), rows_of(index_images, index_rows), parameters,
                rows_of(query_embeddings, query_rows), rows_of(index_embeddings, index_rows),
                take_rows(query_descriptor, query_rows), take_rows(index_descriptor, index_rows), query_local, index_local,
            )  # fmt: skip

    scored = _run_shards(executor, _score_shard_across, tasks(), len(pairs), progress)
    if not scored:
        return np.empty(0), np.empty(0)
    return np.concatenate([scores for scores, _ in scored]), np.concatenate([raw for _, raw in scored])


def touched_rows(pairs):
    """``(rows, local)``: the items ``pairs`` touch, sorted, and the pairs as positions in
    ``rows``: what a scorer of only those images needs."""
    rows, local = np.unique(pairs, return_inverse=True)
    return rows, local.reshape(pairs.shape)


def rows_of(values, rows):
    """The rows of ``values`` (an array or a ``streaming.DiskRows``), or None for None."""
    return None if values is None else take_rows(values, rows)


def scorer_descriptor(images, parameters, descriptor):
    """``descriptor``, or the one ``PairScorer`` makes itself when it is None."""
    if descriptor is not None:
        return descriptor
    return map_rows(images, lambda chunk: coarse_wavelet_descriptor(np.asarray(chunk, dtype=np.float32), parameters.device))


def _run_shards(executor, score_shard, tasks, n_pairs, progress):
    """The results of ``score_shard`` over ``tasks`` (by ``executor``), in order, with
    ``progress(done, n_pairs)`` after each shard."""
    from ..parallel import run_map

    results = []
    for result in run_map(executor, score_shard, tasks):
        results.append(result)
        if progress is not None:
            progress(min(len(results) * SHARD_PAIRS, n_pairs), n_pairs)
    return results


def _score_shard(task):
    images, parameters, embeddings, descriptor, baselines, reproductions, first, second = task
    scorer = PairScorer(images, parameters, embeddings, descriptor=descriptor, baselines=baselines, reproductions=reproductions)
    return scorer.score(first, second)


def _score_shard_across(task):
    query_images, index_images, parameters, query_embeddings, index_embeddings, query_descriptor, index_descriptor, first, second = task
    query = PairScorer(query_images, parameters, query_embeddings, descriptor=query_descriptor)
    index = PairScorer(index_images, parameters, index_embeddings, descriptor=index_descriptor)
    return query.score_and_raw(first, second, index)
