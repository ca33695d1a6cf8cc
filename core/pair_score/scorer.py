"""The score of one pair (``PairScorer``): aligned similarity (``core.alignment``) or plain
SSIM, fused with the descriptor's and the embeddings' cosines, made stricter for images
that say little (``core.detail``)."""

import numpy as np

from ..alignment import AlignedSimilarity, luminance, standardize
from ..arrays import to_numpy
from ..clustering import unit_rows as embedding_rows
from ..detail import reproductions as image_reproductions
from ..detail import stricter
from ..frames import trim_frames
from ..ssim import SSIMIndex
from ..streaming import row_chunks
from .descriptors import coarse_wavelet_descriptor, unit_rows
from .parameters import DEFAULT_THRESHOLD, PairScoreParameters

DESCRIPTOR_DISTANCE = 0.12
"""Unit descriptors this close (cosine 0.9928) score the default cut by the descriptor alone."""
PROGRESS_PAIRS = 16384
"""Pairs verified between two progress reports (and chances to cancel)."""


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


EVIDENCE = ("raw", "verified", "trimmed", "reproduction")
"""What a pair's score takes from its two images alone, the costly part of it: the raw
similarity (SSIM at the best alignment, before any discount), the verified one, the one
with frames trimmed (NaN where neither image is framed, ``core.frames``) and the pair's
reproduction (``core.detail``). The score fuses it with the descriptor's and the
embeddings' cosines (``fused_scores``), so an update keeps the evidence
(``known_pairs``): it holds whatever descriptor a run selects and whatever embeddings
the samples have."""


def fused_scores(evidence, descriptor_cosine, embedding_cosine, embedding_weight):
    """Pair scores from ``EVIDENCE`` rows and the pairs' cosines (``fuse``); a pair with a
    framed image scores the larger of its score and its score with the frames trimmed."""
    _, verified, trimmed, reproduction = np.asarray(evidence, dtype=np.float64).T
    scores = fuse(verified, descriptor_cosine, embedding_cosine, embedding_weight, reproduction)
    framed = ~np.isnan(trimmed)
    if framed.any():
        embedding = None if embedding_cosine is None else embedding_cosine[framed]
        scores[framed] = np.maximum(scores[framed], fuse(trimmed[framed], None, embedding, embedding_weight, reproduction[framed]))
    return scores


def fused_between(evidence, own, theirs, first, second, embedding_weight):
    """``fused_scores`` of the pairs ``own[first[k]]``, ``theirs[second[k]]``, each side
    ``(unit descriptor rows, unit embedding rows or None)``: what a scorer fuses and what
    an update fuses its looked-up evidence with."""
    return fused_scores(
        evidence,
        cosines_between(own[0], theirs[0], first, second),
        cosines_between(own[1], theirs[1], first, second),
        embedding_weight,
    )


def cosines_between(own, theirs, first, second):
    """The cosines of the pairs ``own[first[k]]``, ``theirs[second[k]]`` of unit rows
    (descriptors or embeddings); None where there are no rows (no embeddings)."""
    if own is None or theirs is None:
        return None
    return np.einsum("ij,ij->i", own[first], theirs[second])


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
                 reproductions=None, unit_descriptor=None):  # fmt: skip
        """``baselines``: the images' aligned-similarity baselines, ``reproductions``
        their ``core.detail.reproductions``, when computed before, instead of again here;
        ``unit_descriptor``: the descriptor's rows as ``unit_rows`` made them over a
        larger set (a row's rounding can depend on the array it was computed in)."""
        self.parameters = parameters or PairScoreParameters()
        p = self.parameters
        images = np.asarray(images, dtype=np.float32)
        self.reproductions = image_reproductions(images) if reproductions is None else np.asarray(reproductions)
        if unit_descriptor is not None:
            self.descriptor = unit_descriptor
        else:
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
        self._trimmed_images = standardize(luminance(trimmed))
        self._trimmed_baselines = np.full(len(images), np.nan)
        """Each image's baseline in the similarity of ``_trimmed`` (its frame trimmed, or
        as it is), computed when a chunk first needs it: it is the image's own."""
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
        evidence = self.evidence(first, second, other, progress)
        return self.fused(evidence, first, second, other), evidence[:, 0]

    def evidence(self, first, second, other=None, progress=None):
        """The ``EVIDENCE`` rows of pairs ``self[first[k]]``, ``other[second[k]]``: what
        the score takes from the two images alone (the costly part). ``progress`` as in
        ``score_and_raw``."""
        first = np.asarray(first, dtype=np.int64)
        second = np.asarray(second, dtype=np.int64)
        evidence = np.empty((len(first), len(EVIDENCE)))
        for start in range(0, len(first), PROGRESS_PAIRS):
            chunk = slice(start, start + PROGRESS_PAIRS)
            evidence[chunk] = self._evidence_chunk(first[chunk], second[chunk], other)
            if progress is not None:
                progress(min(start + PROGRESS_PAIRS, len(first)), len(first))
        return evidence

    def fused(self, evidence, first, second, other=None):
        """The pair scores of ``evidence`` (``evidence``'s rows for these pairs)
        with this scorer's descriptor and embeddings."""
        other = self if other is None else other
        own, theirs = (self.descriptor, self.embeddings), (other.descriptor, other.embeddings)
        return fused_between(evidence, own, theirs, first, second, self.parameters.embedding_weight)

    def _evidence_chunk(self, first, second, other):
        other = self if other is None else other
        if self.parameters.verification == "aligned":
            raw = self.similarity.raw_pairs(first, second, other.similarity)
            verified = self.similarity.discount(raw, first, second, other.similarity)
        else:
            raw = verified = self.similarity.pairs(first, second, other.similarity)
        trimmed = np.full(len(first), np.nan)
        framed = (self._trimmed_row[first] >= 0) | (other._trimmed_row[second] >= 0)
        if framed.any():
            (own, own_rows), (theirs, their_rows) = self._trimmed(first[framed]), other._trimmed(second[framed])
            trimmed[framed] = own.pairs(own_rows, their_rows, theirs)
        reproduction = np.minimum(self.reproductions[first], other.reproductions[second])
        return np.stack([raw, verified, trimmed, reproduction], axis=1)

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
        new = np.isnan(self._trimmed_baselines[images])
        if new.any():
            self._trimmed_baselines[images[new]] = to_numpy(_aligned(prepared[new], p).baselines)
        return _aligned(prepared, p, self._trimmed_baselines[images]), rows
