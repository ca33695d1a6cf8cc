"""The pair score's two entry points: ``score_within`` one image set and ``score_across``
two (train vs test): candidates, their verification, and (within) the completion of
tentative groups."""

import numpy as np

from ..clustering import unit_rows as embedding_rows
from ..families import Identities, completion_pairs
from ..frames import trim_frames
from ..streaming import DiskRows, in_memory, take_rows
from ..timing import timed
from .candidates import (
    _passes_gates,
    _same_group,
    _unique_pairs,
    cross_candidates,
    framed_candidates,
    frames_among,
    within_candidates,
)
from .descriptors import candidate_descriptors, unit_rows
from .pairs import ScoredPairs
from .parameters import STORED_FLOOR, PairScoreParameters
from .scorer import PairScorer, fused_between
from .shards import rows_of, scorer_descriptor, shard_side, touched_rows, verify_sharded


def score_within(images, parameters=None, embeddings=None, groups=None, wavelet_descriptor=None,
                 progress=None, search=None, executor=None, timings=None, identities=None, known=None):  # fmt: skip
    """Scored pairs within one image set, as a run stores them (``ScoredPairs.stored``).
    ``identities`` (``families.Identities``): only one image per picture is compared
    (identical and constant images are grouped before and apart from the pair score).
    Each image's candidates are verified; then inside every tentative group (a component
    of the pairs at ``STORED_FLOOR``) the pairs never scored are scored too
    (``families.completion_pairs``), so a family larger than the candidate lists is seen
    whole. ``wavelet_descriptor`` (rows per image) replaces the generic wavelet
    descriptor, for an analysis that has its own (the wavelet analysis's selected
    coefficients); ``progress(done, total)`` follows the verification; ``search`` finds
    the candidates (``within_candidates``). ``images`` (and ``wavelet_descriptor``) may be
    a ``streaming.DiskRows``, read by chunks (bounded memory at a million images). With
    ``executor`` (``parallel.RayExecutor``), or images on disk, the pairs are verified in
    shards (``verify_sharded``), as Ray tasks or in this process. ``timings`` (a dict)
    receives the seconds of the candidate search ("pair_candidates": descriptors, search,
    gates, frames), the verification ("pair_verification") and the completion
    ("pair_completion"). ``known`` (``known_pairs.KnownScores``): pairs it knows are looked
    up, the others verified on their images alone (``reusing_verifier``); every score
    used is recorded in it."""
    parameters = parameters or PairScoreParameters()
    timings = {} if timings is None else timings
    n = len(images)
    scored_rows = (identities or Identities.none(n)).scored
    with timed(timings, "pair_candidates"):
        sets = candidate_descriptors(images, parameters.device, wavelet_descriptor)
        if embeddings is not None:
            sets.append(embedding_rows(embeddings))
        pairs = within_candidates(sets, parameters.n_neighbors, groups, parameters.device, search, scored_rows)
        pairs = pairs[_passes_gates(pairs, sets)]
        frames = frames_among(trim_frames(images), scored_rows) if parameters.verification == "aligned" else None
        framed = framed_candidates(frames, sets[1], parameters.n_neighbors, parameters.device, True, scored_rows)
        pairs = _unique_pairs([pairs, np.sort(_same_group(framed, groups, groups), axis=1)])
    with timed(timings, "pair_verification"):
        if known is None:
            verify = _verifier(images, parameters, embeddings, sets[0], frames, executor)
        else:
            reuse = reusing_verifier(parameters, KnownRows(known), (images, embeddings, sets[0]))
            verify = lambda pairs, progress: reuse(pairs, progress)[0]  # noqa: E731
        scores = verify(pairs, progress)
    with timed(timings, "pair_completion"):
        more = completion_pairs(n, pairs[:, 0], pairs[:, 1], scores, STORED_FLOOR)
        if len(more):
            pairs, scores = np.concatenate([pairs, more]), np.concatenate([scores, verify(more, progress)])
    return ScoredPairs(pairs[:, 0], pairs[:, 1], scores).stored()


def _verifier(images, parameters, embeddings, descriptor, frames, executor):
    """``verify(pairs, progress) -> scores`` for pairs of ``images``: one ``PairScorer`` in
    memory, or shards (``verify_sharded``) for images on disk or an executor, each
    image's own values (baselines, reproductions) computed once for every call."""
    if executor is None and not isinstance(images, DiskRows):
        scorer = PairScorer(images, parameters, embeddings, descriptor=descriptor, frames=frames)
        return lambda pairs, progress: scorer.score(pairs[:, 0], pairs[:, 1], progress=progress)
    side = shard_side(images, parameters, embeddings, descriptor)
    return lambda pairs, progress: verify_sharded(executor, parameters, pairs, side, progress=progress)[0]


class KnownRows:
    """A ``known_pairs.KnownScores`` asked about pairs ``(query, index)`` of two subsets of
    its images: query ``i`` is row ``query_rows[i]``, index ``j`` is row ``index_rows[j]``
    (a split's test and training images, stored test first); None: pairs of its own rows."""

    def __init__(self, known, query_rows=None, index_rows=None):
        self.known = known
        self.query_rows = None if query_rows is None else np.asarray(query_rows)
        self.index_rows = None if index_rows is None else np.asarray(index_rows)

    def rows(self, pairs):
        if self.query_rows is None:
            return pairs
        return np.stack([self.query_rows[pairs[:, 0]], self.index_rows[pairs[:, 1]]], axis=1)


def reusing_verifier(parameters, known, query, index=None):
    """``verify(pairs, progress) -> (scores, raw)`` for pairs ``(query, index)`` that looks
    up the evidence of the pairs ``known`` (``KnownRows``) holds and verifies the rest with
    scorers of only the images they touch (each image's own values are its own: a pair's
    evidence is what it would be among all the images), then fuses every pair's evidence
    with the descriptors and embeddings of this run (``fused_between``), recording the
    evidence: an update prepares and verifies only what is new. ``query`` and ``index``
    are ``(images, embeddings or None, descriptor or None)`` (``index`` None: pairs within
    ``query``); a descriptor (None: the scorer's own) is made unit over its whole side, as
    the whole set's scorer makes it."""
    query = _unit_side(query, parameters)
    index = query if index is None else _unit_side(index, parameters)

    def verify(pairs, progress):
        found, evidence = known.known.lookup(known.rows(pairs))
        todo = pairs[~found]
        if len(todo):
            query_scorer, index_scorer, local = _scorers_of_touched(query, index, todo, parameters)
            evidence[~found] = query_scorer.evidence(local[:, 0], local[:, 1], index_scorer, progress)
        known.known.record(known.rows(pairs), evidence, len(todo))
        scores = fused_between(evidence, query[2:], index[2:], pairs[:, 0], pairs[:, 1], parameters.embedding_weight)
        return scores, evidence[:, 0]

    return verify


def _unit_side(side, parameters):
    """``(images, embeddings, unit descriptor rows, unit embedding rows)`` of one side."""
    images, embeddings, descriptor = side
    descriptor = unit_rows(in_memory(scorer_descriptor(images, parameters, descriptor)))
    return images, embeddings, descriptor, None if embeddings is None else embedding_rows(embeddings)


def _scorers_of_touched(query, index, pairs, parameters):
    """``(query scorer, index scorer, pairs as their rows)``: scorers of only the images
    ``pairs`` touch on each side; one scorer for both when the sides are one set."""
    query_rows, index_rows, local = touched_rows(pairs, index is query)
    query_scorer = _scorer_of_rows(query, query_rows, parameters)
    return query_scorer, query_scorer if index is query else _scorer_of_rows(index, index_rows, parameters), local


def _scorer_of_rows(side, rows, parameters):
    images, embeddings, descriptor, _ = side
    return PairScorer(take_rows(images, rows), parameters, rows_of(embeddings, rows), unit_descriptor=descriptor[rows])


def score_across(query_images, index_images, parameters=None, query_embeddings=None,
                 index_embeddings=None, query_groups=None, index_groups=None, progress=None, search=None,
                 executor=None, known=None):  # fmt: skip
    """Scored candidate pairs ``(query, index)`` between two image sets, with their raw
    verified similarity; ``progress(done, total)`` follows the verification; ``search``
    finds the candidates (``cross_candidates``). With ``executor``
    (``parallel.RayExecutor``) the pairs are verified in shards as Ray tasks
    (``verify_sharded``). ``known`` (``KnownRows`` of an update): the pairs scored
    before are looked up, the others verified (``reusing_verifier``)."""
    parameters = parameters or PairScoreParameters()
    query_sets = candidate_descriptors(query_images, parameters.device)
    index_sets = candidate_descriptors(index_images, parameters.device)
    if query_embeddings is not None and index_embeddings is not None:
        query_sets.append(embedding_rows(query_embeddings))
        index_sets.append(embedding_rows(index_embeddings))
    pairs = cross_candidates(
        query_sets, index_sets, parameters.n_neighbors, query_groups, index_groups, parameters.device, search
    )
    aligned = parameters.verification == "aligned"
    query_frames, index_frames = (trim_frames(images) if aligned else None for images in (query_images, index_images))
    framed = [
        framed_candidates(query_frames, index_sets[1], parameters.n_neighbors, parameters.device),
        framed_candidates(index_frames, query_sets[1], parameters.n_neighbors, parameters.device)[:, ::-1],
    ]
    pairs = _unique_pairs([pairs, *(_same_group(f, query_groups, index_groups) for f in framed)])
    # the descriptors are unit rows already: a scorer that made its own would hold the same rows
    scores, raw = verify_across(
        parameters, pairs, (query_images, query_embeddings), (index_images, index_embeddings), progress, executor, known,
        prepared=((query_sets[0], query_frames), (index_sets[0], index_frames)),
    )  # fmt: skip
    return ScoredPairs(pairs[:, 0], pairs[:, 1], scores, raw)


def verify_across(parameters, pairs, query, index, progress=None, executor=None, known=None, prepared=None):
    """``(scores, raw verified similarities)`` of pairs ``(query, index)`` between two
    image sets, each ``(images, embeddings or None)``: for an update (``known``,
    ``KnownRows``) the pairs verified before are looked up and the others verified
    (``reusing_verifier``); with ``executor`` in shards (``verify_sharded``); else by one
    ``PairScorer`` per set in this process, given each set's ``(unit descriptor, frames)``
    in ``prepared`` where the caller has them (None: the scorers make their own)."""
    (query_images, query_embeddings), (index_images, index_embeddings) = query, index
    if known is not None:
        return reusing_verifier(parameters, known, (*query, None), (*index, None))(pairs, progress)
    if executor is not None:
        sides = (shard_side(images, parameters, embeddings) for images, embeddings in (query, index))
        return verify_sharded(executor, parameters, pairs, *sides, progress)
    (query_descriptor, query_frames), (index_descriptor, index_frames) = prepared or ((None, None), (None, None))
    query_scorer = PairScorer(query_images, parameters, query_embeddings, unit_descriptor=query_descriptor, frames=query_frames)
    index_scorer = PairScorer(index_images, parameters, index_embeddings, unit_descriptor=index_descriptor, frames=index_frames)
    return query_scorer.score_and_raw(pairs[:, 0], pairs[:, 1], index_scorer, progress)
