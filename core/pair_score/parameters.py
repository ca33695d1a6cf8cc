"""The pair score's settings (``PairScoreParameters``), validated in one place, the cuts
every analysis shares, and the memory an analysis holds per decoded image value."""

import dataclasses
from dataclasses import dataclass

from ..alignment import DEFAULT_SCALES, DEFAULT_STRETCHES
from ..devices import resolve_device
from ..parameters import check_declared, check_names, check_number, declared, declared_flag

VERIFICATIONS = ("aligned", "ssim")
DEFAULT_THRESHOLD = 0.45
"""The pair-score cut every analysis uses by default (chosen on the realistic-edit benchmark)."""
THRESHOLD_BOUNDS = {"above": 0, "at_most": 1}
"""A pair-score cut is a number in (0, 1]."""
STORED_FLOOR = 0.3
"""Runs keep every verified pair that scores at least ``STORED_FLOOR`` and decide on those
alone (a pair under it counts as 0), so that a re-cut above the floor recomputes nothing
and agrees with a fresh run; the tentative groups that are completed are those of the
pairs at the floor, whatever the cut (``families.completion_pairs``)."""
HELD_BYTES_PER_VALUE = 15
"""Peak memory of a pair-score analysis per decoded image value (its images, their
prepared luminance and descriptors, the candidate pairs and their scores): 3.1 GiB at
50,000 32x32 colour images, about 0.9 GiB of which is the process before it starts."""


@dataclass
class PairScoreParameters:
    """How candidate pairs are found, verified and fused, validated in one place.

    The defaults were chosen on the realistic-edit benchmark
    (``benchmarks/realistic_edits.py``): every edit short of a 25% crop is found at
    precision 0.95 or better among natural CIFAR-10 look-alikes.
    """

    n_neighbors: int = declared(10, "Candidates per image", integer=True, at_least=1, offered=False)
    """Candidates per image and per descriptor (and per embeddings space)."""
    verification: str = "aligned"
    """"aligned": SSIM at the best shift and zoom of colour-normalised luminance;
    "ssim": plain SSIM of the images as they are (skimage's, Wang et al.'s window)."""
    max_shift: int = declared(4, "Largest shift (pixels)", integer=True, at_least=0, at_most=8, offered=False)
    """Largest shift searched, in pixels of the analysis size."""
    scales: tuple = DEFAULT_SCALES
    """Zoom factors tried on either image (a crop of 2-25% scaled back is 1.02-1.33)."""
    stretches: tuple = DEFAULT_STRETCHES
    """Zoom factors tried along one axis at a time (an aspect change)."""
    flips: bool = declared_flag(False, "Count mirrored copies",
                                "A horizontally flipped image scores as a copy of the original")  # fmt: skip
    """Count a mirrored copy as a copy."""
    smoothing: float = declared(0.0, "Smoothing before verification (pixels)", at_least=0, at_most=4, offered=False)
    """Gaussian sigma (pixels) applied before verification, for copies that lost fine
    detail (down-and-up re-scales); it also lifts look-alikes, so it is off by default."""
    embedding_weight: float = declared(0.5, "Share of the embeddings in the score", at_least=0, at_most=1,
                                       offered=False)  # fmt: skip
    """Share of the embeddings' cosine in the fused score, when embeddings are given."""
    device: str = None

    def __post_init__(self):
        if self.verification not in VERIFICATIONS:
            raise ValueError(f"verification must be one of {VERIFICATIONS}, got {self.verification!r}")
        check_declared(self)
        self.scales = tuple(check_number("scales", scale, at_least=1, at_most=2) for scale in self.scales)
        if not self.scales or self.scales[0] != 1:
            raise ValueError(f"scales must start with 1.0 (no zoom), got {self.scales}")
        self.stretches = tuple(check_number("stretches", stretch, above=1, at_most=2) for stretch in self.stretches)
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


def declared_threshold(label, description=None, when=None):
    """An analysis' pair-score cut, declared (``core.parameters.declared``) with the
    default, bounds and name in messages that ``require_threshold`` checks elsewhere."""
    return declared(DEFAULT_THRESHOLD, label, description, when, named="threshold (a pair score)", **THRESHOLD_BOUNDS)


def require_threshold(threshold, name="threshold"):
    """A pair-score cut: a finite number in (0, 1]."""
    check_number(f"{name} (a pair score)", threshold, **THRESHOLD_BOUNDS)
