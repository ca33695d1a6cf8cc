"""One pair score for the whole plugin (DESIGN.md, "One pair score"): candidates from cheap
descriptors, verified by aligned similarity, fused with an embedding signal when the user
has one, cut by one threshold.

Candidates are each image's nearest neighbours by two descriptors that fail in different
ways: the coarse wavelet approximation of the contrast-normalised colour image (finds
re-crops, re-scales and colour changes) and the low-frequency Fourier magnitudes of the
standardised luminance (unchanged by a shift, so it finds shifted and grey copies), plus
the nearest neighbours in an embeddings space when given. Every candidate is verified
(``core.alignment``) and only verified pairs are stored, so a candidate source can miss a
pair but never create one.
"""

import base64
import dataclasses
from dataclasses import dataclass

import numpy as np

from .alignment import DEFAULT_SCALES, DEFAULT_STRETCHES, AlignedSimilarity, luminance, standardise
from .arrays import to_numpy
from .detail import reproductions as image_reproductions
from .detail import stricter
from .devices import resolve_device
from .families import Identities, completion_pairs
from .frames import trim_frames
from .images import normalize_images
from .neighbors import nearest_neighbours as exact_neighbours
from .parameters import check_flag, check_names, check_number
from .clustering import unit_rows as embedding_rows
from .ssim import SSIMIndex
from .streaming import DiskRows, column_means, gram, in_memory, map_rows, row_chunks, subset, take_rows
from .timing import timed
from .wavelets import wavelet_coefficients

VERIFICATIONS = ("aligned", "ssim")
DEFAULT_THRESHOLD = 0.45
"""The pair-score cut every analysis uses by default (chosen on the realistic-edit benchmark)."""
DESCRIPTOR_DISTANCE = 0.12
"""Unit descriptors this close (cosine 0.9928) score the default cut by the descriptor alone."""
RECORD_TYPES = {"first": "<i4", "second": "<i4", "score": "<f8"}
"""How a run record stores each column of its pairs (``ScoredPairs.as_record``)."""
STORED_FLOOR = 0.3
"""Runs keep every verified pair that scores at least ``STORED_FLOOR`` and decide on those
alone (a pair under it counts as 0), so that a re-cut above the floor recomputes nothing
and agrees with a fresh run; the tentative groups that are completed are those of the
pairs at the floor, whatever the cut (``families.completion_pairs``)."""
CANNOT_LINK = -1e6
"""The score of a pair a reviewer said differs: under average linkage no group can hold it
(its distance outweighs any number of identical members)."""
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
HELD_BYTES_PER_VALUE = 15
"""Peak memory of a pair-score analysis per decoded image value (its images, their
prepared luminance and descriptors, the candidate pairs and their scores): 3.1 GiB at
50,000 32x32 colour images, about 0.9 GiB of which is the process before it starts."""


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


PROGRESS_PAIRS = 16384
"""Pairs verified between two progress reports (and chances to cancel)."""
SHARD_PAIRS = 16384
"""Pairs per Ray task when verification is distributed (at most 32,768 images to send)."""
FOURIER_BAND = 6
"""Fourier magnitudes of frequencies up to this many cycles per image enter the shift-free
descriptor (13 x 7 values at 32 x 32)."""


@dataclass
class PairScoreParameters:
    """How candidate pairs are found, verified and fused, validated in one place.

    The defaults were chosen on the realistic-edit benchmark
    (``benchmarks/realistic_edits.py``): every edit short of a 25% crop is found at
    precision 0.95 or better among natural CIFAR-10 look-alikes.
    """

    n_neighbors: int = 10
    """Candidates per image and per descriptor (and per embeddings space)."""
    verification: str = "aligned"
    """"aligned": SSIM at the best shift and zoom of colour-normalised luminance;
    "ssim": plain SSIM of the images as they are (skimage's, Wang et al.'s window)."""
    max_shift: int = 4
    """Largest shift searched, in pixels of the analysis size."""
    scales: tuple = DEFAULT_SCALES
    """Zoom factors tried on either image (a crop of 2-25% scaled back is 1.02-1.33)."""
    stretches: tuple = DEFAULT_STRETCHES
    """Zoom factors tried along one axis at a time (an aspect change)."""
    flips: bool = False
    """Count a mirrored copy as a copy."""
    smoothing: float = 0.0
    """Gaussian sigma (pixels) applied before verification, for copies that lost fine
    detail (down-and-up re-scales); it also lifts look-alikes, so it is off by default."""
    embedding_weight: float = 0.5
    """Share of the embeddings' cosine in the fused score, when embeddings are given."""
    device: str = None

    def __post_init__(self):
        if self.verification not in VERIFICATIONS:
            raise ValueError(f"verification must be one of {VERIFICATIONS}, got {self.verification!r}")
        self.n_neighbors = check_number("n_neighbors", self.n_neighbors, integer=True, at_least=1)
        self.max_shift = check_number("max_shift", self.max_shift, integer=True, at_least=0, at_most=8)
        self.scales = tuple(check_number("scales", scale, at_least=1, at_most=2) for scale in self.scales)
        if not self.scales or self.scales[0] != 1:
            raise ValueError(f"scales must start with 1.0 (no zoom), got {self.scales}")
        self.stretches = tuple(check_number("stretches", stretch, above=1, at_most=2) for stretch in self.stretches)
        check_flag("flips", self.flips)
        check_number("smoothing", self.smoothing, at_least=0, at_most=4)
        check_number("embedding_weight", self.embedding_weight, at_least=0, at_most=1)
        resolve_device(self.device)


def pair_score_parameters(value, device=None):
    """``PairScoreParameters`` from one given, a dict of its fields, or None (the
    defaults); ``device`` unless the dict names one."""
    if isinstance(value, PairScoreParameters):
        return value
    if value is not None and not isinstance(value, dict):
        raise ValueError(f"pair_score must be a dict of PairScoreParameters fields, got {value!r}")
    check_names("pair_score", value or {}, [field.name for field in dataclasses.fields(PairScoreParameters)])
    return PairScoreParameters(**{"device": device, **(value or {})})


def require_threshold(threshold, name="threshold"):
    """A pair-score cut: a finite number in (0, 1]."""
    check_number(f"{name} (a pair score)", threshold, above=0, at_most=1)


def candidate_descriptors(images, device=None, wavelet=None):
    """The two candidate descriptors of ``images`` (n, h, w[, c]) in [0, 1], unit rows;
    ``wavelet`` (rows per image) stands for the first one when a caller already has it.
    ``images`` (and ``wavelet``) may be a ``streaming.DiskRows``: the descriptors are then
    made chunk by chunk into files beside it."""
    if wavelet is None:
        wavelet = map_rows(images, lambda chunk: coarse_wavelet_descriptor(chunk, device))
    return [map_rows(wavelet, unit_rows), map_rows(images, fourier_descriptor)]


def fourier_descriptor(images):
    """Low-frequency Fourier magnitudes of the standardised luminance under a Hann window
    (unit rows): a shift leaves them nearly as they are, and the window keeps the edges,
    which a shift or a re-crop replaces, from weighing as much as the centre."""
    standard = standardise(luminance(images)) - 0.5
    height, width = standard.shape[1:]
    window = np.outer(np.hanning(height + 2)[1:-1], np.hanning(width + 2)[1:-1]).astype(np.float32)
    spectrum = np.abs(np.fft.rfft2(standard * window))
    band = np.concatenate(
        [spectrum[:, : FOURIER_BAND + 1, : FOURIER_BAND + 1], spectrum[:, -FOURIER_BAND:, : FOURIER_BAND + 1]],
        axis=1,
    )
    return unit_rows(np.log1p(band))


def coarse_wavelet_descriptor(images, device=None):
    """The coarse wavelet descriptor: level-2 Haar approximation of the contrast-normalised
    image (rows per image, not yet unit)."""
    return wavelet_coefficients(normalize_images(images, "contrast"), "db1", 2, "periodization", True, device)


def unit_rows(features):
    """Rows centred and scaled to unit length (constant rows become zero)."""
    features = np.asarray(features, dtype=np.float32).reshape(len(features), -1)
    centred = features - features.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(centred, axis=1, keepdims=True)
    return np.divide(centred, norms, out=np.zeros_like(centred), where=norms > 1e-9)


def candidate_neighbours(queries, index, n_neighbors, exclude_self=False, device=None):
    """Indices ``(len(queries), n_neighbors)`` of the rows of ``index`` nearest each query
    row (Euclidean; on unit rows, the highest cosine), in the top ``SEARCH_DIMENSIONS``
    principal axes of ``index`` when rows are longer than ``PROJECTED_ABOVE``
    (``_search_projection``), by blocks of matrix products (``neighbors.nearest_neighbours``:
    torch or numpy, on a GPU when ``device`` picks one, ties by index); never an n x n
    matrix. ``exclude_self``: ``queries`` are the rows of ``index``, none its own
    neighbour. The projection makes the search approximate, which only risks a missed
    candidate: every candidate is verified."""
    count = min(n_neighbors, len(index) - (1 if exclude_self else 0))
    if count <= 0:
        return np.empty((len(queries), 0), dtype=np.int64)
    project = _search_projection(index)
    rows = project(in_memory(index))
    return exact_neighbours(rows, count, device, queries=None if exclude_self else project(queries))[0]


def nearest_neighbours(rows, n_neighbors, device=None, queries=None):
    """Indices ``(len(rows), n_neighbors)`` of each row's nearest other rows (an array or
    a ``streaming.DiskRows``), or with ``queries`` (an array) of each query's nearest
    rows: exact up to ``EXACT_SEARCH_ROWS`` rows (``candidate_neighbours``), approximate
    past it (``inverted_file_neighbours``)."""
    if len(rows) <= EXACT_SEARCH_ROWS:
        rows = in_memory(rows)
        if queries is None:
            return candidate_neighbours(rows, rows, n_neighbors, exclude_self=True, device=device)
        return candidate_neighbours(queries, rows, n_neighbors, device=device)
    return inverted_file_neighbours(rows, n_neighbors, queries)


def inverted_file_neighbours(rows, n_neighbors, queries=None):
    """``nearest_neighbours`` through a faiss inverted-file index (IVF, exact distances
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
        _, neighbours = index.search(project(chunk), n_neighbors + 1)
        own = np.arange(start, start + len(chunk))[:, None]
        neighbours = np.where(neighbours < 0, own, neighbours)
        others_first = np.argsort(neighbours == own, axis=1, kind="stable")
        found[start : start + len(chunk)] = np.take_along_axis(neighbours, others_first, axis=1)[:, :n_neighbors]
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


def within_candidates(descriptor_sets, n_neighbors, groups=None, device=None, search=None, rows=None):
    """Unique candidate pairs ``(first, second)``, first < second, within one image set:
    each image with its ``n_neighbors`` nearest by every descriptor. With ``groups``
    (e.g. classes) only pairs within a group; with ``rows`` only among those images (one
    per picture: ``families.Identities.scored``). ``search(members, rows, k)`` (rows of
    ``members``; returns each row's ``k`` nearest other rows as positions in ``members``)
    replaces the default search (``nearest_neighbours``), e.g. with a vector index
    (``bridge.similarity``). Descriptors may be ``streaming.DiskRows``."""
    n = len(descriptor_sets[0])
    if search is None:

        def search(members, rows, k):
            return nearest_neighbours(rows, k, device)

    pairs = []
    for members in _group_members(n, groups, rows):
        for descriptors in descriptor_sets:
            neighbours = search(members, descriptors if len(members) == n else subset(descriptors, members), n_neighbors)
            first = np.repeat(members, neighbours.shape[1])
            second = members[neighbours.reshape(-1)]
            distinct = first != second
            first, second = first[distinct], second[distinct]
            pairs.append(np.stack([np.minimum(first, second), np.maximum(first, second)], axis=1))
    return _unique_pairs(pairs)


def cross_candidates(query_sets, index_sets, n_neighbors, query_groups=None, index_groups=None, device=None,
                     search=None):  # fmt: skip
    """Unique candidate pairs ``(query, index)`` between two image sets: each query image
    with its ``n_neighbors`` nearest index images by every descriptor, within its group.
    ``search(queries, members, rows, k)`` (query rows; rows of the index images
    ``members``; returns each query's ``k`` nearest rows as positions in ``members``)
    replaces the blocked search, e.g. with a vector index (``bridge.similarity``)."""
    if search is None:

        def search(queries, members, rows, k):
            return candidate_neighbours(queries, rows, k, device=device)

    pairs = []
    query_groups = np.zeros(len(query_sets[0]), dtype=object) if query_groups is None else np.asarray(query_groups, dtype=object)
    index_groups = np.zeros(len(index_sets[0]), dtype=object) if index_groups is None else np.asarray(index_groups, dtype=object)
    for group in np.unique(query_groups):
        queries = np.flatnonzero(query_groups == group)
        members = np.flatnonzero(index_groups == group)
        if len(members) == 0:
            continue
        for query_descriptors, index_descriptors in zip(query_sets, index_sets):
            neighbours = search(query_descriptors[queries], members, index_descriptors[members], n_neighbors)
            pairs.append(np.stack([np.repeat(queries, neighbours.shape[1]), members[neighbours.reshape(-1)]], axis=1))
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


def descriptor_score(cosine):
    """The coarse wavelet descriptor's cosine as a score: 1 at cosine 1, the default cut at
    cosine ``1 - DESCRIPTOR_DISTANCE**2 / 2`` (the first wave's grouping distance), linear
    between, 0 below. It vouches for copies without geometric change (re-encodes, noise,
    colour changes) even in smooth images, where the aligned similarity is discounted."""
    reference = DESCRIPTOR_DISTANCE**2 / 2
    return np.clip(1 - (1 - np.asarray(cosine, dtype=np.float64)) * (1 - DEFAULT_THRESHOLD) / reference, 0, 1)


def fuse(verified, descriptor_cosine=None, embedding_cosine=None, embedding_weight=0.5, reproduction=None):
    """One score in [0, 1]: the pixel evidence is the larger of the verified (aligned)
    similarity and the descriptor's score, made stricter for a pair of images that say
    little (``reproduction``: the more detailed image's, ``core.detail``); with
    embeddings, a weighted mean of that and the embeddings' cosine (negative cosines count
    as 0). It never falls when a signal rises."""
    pixels = np.clip(np.asarray(verified, dtype=np.float64), 0, 1)
    if descriptor_cosine is not None:
        pixels = np.maximum(pixels, descriptor_score(descriptor_cosine))
    if reproduction is not None:
        pixels = stricter(pixels, reproduction)
    if embedding_cosine is None:
        return pixels
    embedding = np.clip(np.asarray(embedding_cosine, dtype=np.float64), 0, 1)
    return (1 - embedding_weight) * pixels + embedding_weight * embedding


def smoothed(images, sigma):
    """``images`` under a Gaussian blur of ``sigma`` pixels (``PairScoreParameters.smoothing``;
    0: as they are)."""
    if sigma <= 0 or not len(images):
        return images
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(images, (0, sigma, sigma) + (0,) * (images.ndim - 3), mode="nearest")


def _aligned(images, parameters, baselines=None):
    p = parameters
    return AlignedSimilarity(images, p.max_shift, p.scales, p.flips, p.device, stretches=p.stretches, baselines=baselines)


def aligned_baselines(images, parameters):
    """Each image's aligned-similarity baseline (``AlignedSimilarity``: its SSIM with
    itself moved by a pixel), chunk by chunk (``images`` may be a ``streaming.DiskRows``);
    None unless the verification is "aligned". Computed once for the shards of
    ``verify_sharded``, it is most of the time a shard would spend preparing its images."""
    if parameters.verification != "aligned":
        return None
    return np.concatenate([
        to_numpy(_aligned(smoothed(np.asarray(chunk, dtype=np.float32), parameters.smoothing), parameters).baselines)
        for _, chunk in row_chunks(images)
    ])  # fmt: skip


class PairScorer:
    """Images (their descriptor, and optional embeddings) prepared for the pair score
    between any two of them, or against another scorer's images (train vs test)."""

    def __init__(self, images, parameters=None, embeddings=None, descriptor=None, frames=None, baselines=None,
                 reproductions=None):  # fmt: skip
        """``baselines``: the images' aligned-similarity baselines, ``reproductions``
        their ``core.detail.reproductions``, when computed before, instead of again here."""
        self.parameters = parameters or PairScoreParameters()
        p = self.parameters
        images = np.asarray(images, dtype=np.float32)
        self.reproductions = image_reproductions(images) if reproductions is None else np.asarray(reproductions)
        self.descriptor = unit_rows(coarse_wavelet_descriptor(images, p.device) if descriptor is None else descriptor)
        if p.verification != "aligned":
            frames = (np.empty(0, dtype=np.int64), images[:0])
        self.frames = trim_frames(images) if frames is None else frames
        """``(framed, trimmed)`` (``core.frames.trim_frames``; given when the caller has
        it): pairs of a framed image are also scored with the frame trimmed."""
        framed, trimmed = self.frames
        self._trimmed_row = np.full(len(images), -1)
        self._trimmed_row[framed] = np.arange(len(framed))
        images, trimmed = smoothed(images, p.smoothing), smoothed(trimmed, p.smoothing)
        self._trimmed_images = standardise(luminance(trimmed))
        if p.verification == "aligned":
            self.similarity = _aligned(images, p, baselines)
        else:
            self.similarity = SSIMIndex(images, device=p.device)
        self.embeddings = None if embeddings is None else embedding_rows(embeddings)

    def __len__(self):
        return len(self.similarity)

    def score(self, first, second, other=None, progress=None):
        """Fused pair score of ``self[first[k]]`` with ``other[second[k]]``."""
        return self.score_and_raw(first, second, other, progress)[0]

    def score_and_raw(self, first, second, other=None, progress=None):
        """``(fused score, raw verified similarity)``: the raw one (SSIM at the best
        alignment, before any discount) ranks how unlike each other two images are.
        ``progress(done, total)`` is called after every ``PROGRESS_PAIRS`` pairs (it may
        raise to stop the work)."""
        first = np.asarray(first, dtype=np.int64)
        second = np.asarray(second, dtype=np.int64)
        fused, raw = np.empty(len(first)), np.empty(len(first))
        for start in range(0, len(first), PROGRESS_PAIRS):
            chunk = slice(start, start + PROGRESS_PAIRS)
            fused[chunk], raw[chunk] = self._score_chunk(first[chunk], second[chunk], other)
            if progress is not None:
                progress(min(start + PROGRESS_PAIRS, len(first)), len(first))
        return fused, raw

    def _score_chunk(self, first, second, other):
        other = self if other is None else other
        if self.parameters.verification == "aligned":
            raw = self.similarity.raw_pairs(first, second, other.similarity)
            verified = self.similarity.discount(raw, first, second, other.similarity)
        else:
            raw = verified = self.similarity.pairs(first, second, other.similarity)
        descriptor_cosine = np.einsum("ij,ij->i", self.descriptor[first], other.descriptor[second])
        embedding_cosine = None
        if self.embeddings is not None and other.embeddings is not None:
            embedding_cosine = np.einsum("ij,ij->i", self.embeddings[first], other.embeddings[second])
        weight = self.parameters.embedding_weight
        reproduction = np.minimum(self.reproductions[first], other.reproductions[second])
        fused = fuse(verified, descriptor_cosine, embedding_cosine, weight, reproduction)
        framed = (self._trimmed_row[first] >= 0) | (other._trimmed_row[second] >= 0)
        if framed.any():
            (own, own_rows), (theirs, their_rows) = self._trimmed(first[framed]), other._trimmed(second[framed])
            trimmed = own.pairs(own_rows, their_rows, theirs)
            embedding = None if embedding_cosine is None else embedding_cosine[framed]
            fused[framed] = np.maximum(fused[framed], fuse(trimmed, None, embedding, weight, reproduction[framed]))
        return fused, raw

    def _trimmed(self, indices):
        """``(similarity, rows)``: the aligned similarity of the images ``indices`` name,
        with their frames trimmed (the others as they are: the prepared images pass
        through preparation unchanged), and each index's row in it. Built per chunk for
        the few framed images' pairs (0.3% of natural images are framed)."""
        p = self.parameters
        images, rows = np.unique(indices, return_inverse=True)
        prepared = to_numpy(self.similarity.images[images])
        where = self._trimmed_row[images]
        prepared[where >= 0] = self._trimmed_images[where[where >= 0]]
        return _aligned(prepared, p), rows


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
    neighbours = nearest_neighbours(index, n_neighbors + within, device, queries=fourier_descriptor(trimmed))
    if rows is not None:
        neighbours = np.asarray(rows)[neighbours]
    pairs = np.stack([np.repeat(framed, neighbours.shape[1]), neighbours.reshape(-1)], axis=1)
    return pairs[pairs[:, 0] != pairs[:, 1]] if within else pairs


def frames_among(frames, rows):
    """``trim_frames``'s ``(framed, trimmed)`` of only the images ``rows``."""
    if frames is None:
        return None
    framed, trimmed = frames
    keep = np.isin(framed, rows)
    return framed[keep], trimmed[keep]


@dataclass
class ScoredPairs:
    """Verified candidate pairs of one image set (or query x index), with their score;
    what a run stores so that a later cut recomputes nothing."""

    first: np.ndarray
    second: np.ndarray
    score: np.ndarray
    raw: np.ndarray = None
    """The verified similarity before discount and fusion, where it was kept."""

    def stored(self):
        """The pairs a run keeps and decides on: those at or above ``STORED_FLOOR``,
        scores rounded to five decimals (what a re-cut reads back)."""
        kept = self.above(STORED_FLOOR)
        return ScoredPairs(kept.first, kept.second, np.round(kept.score, 5))

    def as_record(self):
        """The columns for a run record, each the base64 text of its little-endian bytes
        (``RECORD_TYPES``): the million-image benchmark's 6.6 million pairs are 140 MB of
        text this way,
        where JSON lists of numbers would take gigabytes of Python objects to write and to
        read back."""
        if len(self.first) and max(self.first.max(), self.second.max()) >= 2**31:
            raise ValueError("a run record stores pairs of at most 2**31 items")
        return {"encoding": "base64"} | {
            name: base64.b64encode(np.asarray(getattr(self, name), dtype=kind).tobytes()).decode("ascii")
            for name, kind in RECORD_TYPES.items()
        }

    @staticmethod
    def columns_of(record):
        """The columns of a stored record (``as_record``'s, or the plain lists that runs
        stored before it) as arrays: ``{"first", "second", "score"}``."""
        columns = {}
        for name, stored in RECORD_TYPES.items():
            kind = np.float64 if name == "score" else np.int64
            if record.get("encoding") == "base64":
                columns[name] = np.frombuffer(base64.b64decode(record[name]), dtype=stored).astype(kind)
            else:
                columns[name] = np.asarray(record[name], dtype=kind)
        return columns

    @staticmethod
    def concatenate(parts):
        """The pairs of every part, one after another (their scores only)."""
        return ScoredPairs(*(np.concatenate([getattr(part, name) for part in parts]) for name in ("first", "second", "score")))

    def above(self, threshold):
        keep = self.score >= threshold
        return ScoredPairs(self.first[keep], self.second[keep], self.score[keep])



def score_within(images, parameters=None, embeddings=None, groups=None, wavelet_descriptor=None,
                 progress=None, search=None, executor=None, timings=None, identities=None):  # fmt: skip
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
    ("pair_completion")."""
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
        verify = _verifier(images, parameters, embeddings, sets[0], frames, executor)
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
    prepared = shard_preparation(images, parameters, descriptor)
    return lambda pairs, progress: verify_sharded(executor, images, parameters, embeddings, None, pairs, progress, prepared)


def shard_preparation(images, parameters, descriptor=None):
    """What every shard of ``images`` reads instead of computing it again:
    ``(descriptor, baselines, reproductions)`` (``descriptor`` None: the scorer's own,
    ``coarse_wavelet_descriptor``)."""
    descriptor = _scorer_descriptor(images, parameters, descriptor)
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
            shard = pairs[order[start : start + SHARD_PAIRS]]
            rows, local = np.unique(shard, return_inverse=True)
            local = local.reshape(shard.shape)
            yield (
                take_rows(images, rows), parameters, _rows_of(embeddings, rows), take_rows(descriptor, rows),
                _rows_of(baselines, rows), reproductions[rows], local[:, 0], local[:, 1],
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
    query_descriptor = _scorer_descriptor(query_images, parameters, query_descriptor)
    index_descriptor = _scorer_descriptor(index_images, parameters, index_descriptor)

    def tasks():
        for start in range(0, len(pairs), SHARD_PAIRS):
            shard = pairs[start : start + SHARD_PAIRS]
            query_rows, query_local = np.unique(shard[:, 0], return_inverse=True)
            index_rows, index_local = np.unique(shard[:, 1], return_inverse=True)
            yield (
                _rows_of(query_images, query_rows), _rows_of(index_images, index_rows), parameters,
                _rows_of(query_embeddings, query_rows), _rows_of(index_embeddings, index_rows),
                take_rows(query_descriptor, query_rows), take_rows(index_descriptor, index_rows), query_local, index_local,
            )  # fmt: skip

    scored = _run_shards(executor, _score_shard_across, tasks(), len(pairs), progress)
    if not scored:
        return np.empty(0), np.empty(0)
    return np.concatenate([scores for scores, _ in scored]), np.concatenate([raw for _, raw in scored])


def _rows_of(values, rows):
    """The rows of ``values`` (an array or a ``streaming.DiskRows``), or None for None."""
    return None if values is None else take_rows(values, rows)


def _scorer_descriptor(images, parameters, descriptor):
    """``descriptor``, or the one ``PairScorer`` makes itself when it is None."""
    if descriptor is not None:
        return descriptor
    return map_rows(images, lambda chunk: coarse_wavelet_descriptor(np.asarray(chunk, dtype=np.float32), parameters.device))


def _run_shards(executor, score_shard, tasks, n_pairs, progress):
    """The results of ``score_shard`` over ``tasks`` (by ``executor``), in order, with
    ``progress(done, n_pairs)`` after each shard."""
    from .parallel import run_map

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


def score_across(query_images, index_images, parameters=None, query_embeddings=None,
                 index_embeddings=None, query_groups=None, index_groups=None, progress=None, search=None,
                 executor=None):  # fmt: skip
    """Scored candidate pairs ``(query, index)`` between two image sets, with their raw
    verified similarity; ``progress(done, total)`` follows the verification; ``search``
    finds the candidates (``cross_candidates``). With ``executor``
    (``parallel.RayExecutor``) the pairs are verified in shards as Ray tasks
    (``verify_sharded_across``)."""
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
    if executor is None:
        query_scorer = PairScorer(query_images, parameters, query_embeddings, descriptor=query_sets[0], frames=query_frames)
        index_scorer = PairScorer(index_images, parameters, index_embeddings, descriptor=index_sets[0], frames=index_frames)
        scores, raw = query_scorer.score_and_raw(pairs[:, 0], pairs[:, 1], index_scorer, progress)
    else:
        scores, raw = verify_sharded_across(
            executor, query_images, index_images, parameters, query_embeddings, index_embeddings,
            query_sets[0], index_sets[0], pairs, progress,
        )  # fmt: skip
    return ScoredPairs(pairs[:, 0], pairs[:, 1], scores, raw)
