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

Its modules import one way, each only those before it: ``parameters`` (the settings and
the cuts), ``descriptors``, ``candidates`` (search and gates), ``pairs`` (``ScoredPairs``,
the storage format), ``scorer`` (``PairScorer``: one pair's score), ``shards``
(verification in shards, as Ray tasks or here), ``scoring`` (``score_within`` and
``score_across``). This package re-exports their public names.
"""

from .parameters import (
    DEFAULT_THRESHOLD,
    HELD_BYTES_PER_VALUE,
    PairScoreParameters,
    STORED_FLOOR,
    VERIFICATIONS,
    declared_threshold,
    pair_score_parameters,
    require_threshold,
)
from .descriptors import (
    FOURIER_BAND,
    candidate_descriptors,
    coarse_wavelet_descriptor,
    fourier_descriptor,
    unit_rows,
)
from .candidates import (
    CANDIDATE_GATES,
    EXACT_SEARCH_ROWS,
    FAISS_MISSING,
    INVERTED_LISTS_PER_ROOT,
    PROBED_LISTS,
    PROJECTED_ABOVE,
    SEARCH_DIMENSIONS,
    TRAINING_PER_LIST,
    candidate_neighbors,
    cross_candidates,
    framed_candidates,
    frames_among,
    inverted_file_neighbors,
    nearest_neighbors,
    pair_cosines,
    within_candidates,
)
from .pairs import (
    CANNOT_LINK,
    RECORD_TYPES,
    ScoredPairs,
)
from .scorer import (
    DESCRIPTOR_DISTANCE,
    PROGRESS_PAIRS,
    PairScorer,
    aligned_baselines,
    descriptor_score,
    fuse,
    smoothed,
)
from .shards import (
    SHARD_PAIRS,
    ShardSide,
    locality_order,
    shard_side,
    verify_sharded,
)
from .scoring import (
    KnownRows,
    reusing_verifier,
    score_across,
    score_within,
    verify_across,
)
