"""How much an image can say, and how much more two such images must agree.

An 8x8 handwritten digit blown up to 32x32, or a 25-pixel face crop, holds a few dozen
independent values: two different writers' "1"s, aligned, agree as well as two copies of a
detailed photograph with mild edits. Such an image is rebuilt almost exactly from a
version ``REDUCTION`` times smaller (block means, then bilinear back): its SSIM with that
rebuild (``reproductions``) is 0.87-0.98 for the demo's digits and under 0.80 for 99.7% of
CIFAR-10's photographs. A pair of images that both say so little must agree more before it
counts as a copy: its score ``s`` becomes ``(s - c) / (1 - c)``, with ``c`` rising from 0
at a reproduction of ``PLAIN_BELOW`` to ``STRICTEST`` at ``STRICT_FROM``
(``strictness``), judged by the pair's more detailed image (a blurred copy of a sharp
photograph is judged by the photograph). The default cut 0.45 then asks 0.89 of two
digits, which their re-encoded, brightened, recoloured and noisy copies reach (0.99) and
different writers' digits do not (0.84 at most on the demo).

Pure numpy: a few batched float32 matrix products per image.
"""

import numpy as np

from .alignment import SPREAD, bilinear_weights, luminance, standardize
from .ssim import window_operators
from .streaming import row_chunks

REDUCTION = 4
PLAIN_BELOW = 0.80
STRICT_FROM = 0.88
STRICTEST = 0.8


def reproductions(images):
    """Each image's SSIM (Wang et al.'s window, on its standardised luminance) with itself
    rebuilt from a ``REDUCTION`` times smaller version; ``images`` may be a
    ``streaming.DiskRows`` (read by chunks)."""
    return np.concatenate([_reproductions(chunk) for _, chunk in row_chunks(images)] or [np.empty(0)])


def _reproductions(images):
    prepared = standardize(luminance(images))
    n, height, width = prepared.shape
    rebuild_rows = _bilinear(max(1, height // REDUCTION), height) @ _area(max(1, height // REDUCTION), height)
    rebuild_columns = _bilinear(max(1, width // REDUCTION), width) @ _area(max(1, width // REDUCTION), width)
    rebuilt = rebuild_rows.astype(np.float32) @ prepared @ rebuild_columns.T.astype(np.float32)
    rows, columns, _ = (operator.astype(np.float32) if hasattr(operator, "astype") else operator
                        for operator in window_operators(height, width))  # fmt: skip

    def window(values):
        return rows @ values @ columns.T

    c1, c2 = 0.01**2, 0.03**2
    mean_x, mean_y = window(prepared), window(rebuilt)
    var_x = window(prepared * prepared) - mean_x**2
    var_y = window(rebuilt * rebuilt) - mean_y**2
    covariance = window(prepared * rebuilt) - mean_x * mean_y
    ssim = ((2 * mean_x * mean_y + c1) * (2 * covariance + c2)) / ((mean_x**2 + mean_y**2 + c1) * (var_x + var_y + c2))
    flat = prepared.std(axis=(1, 2)) < 1e-6 * SPREAD
    return np.where(flat, 1.0, ssim.mean(axis=(1, 2)))


def _area(small, size):
    """``(small, size)``: each of ``small`` cells the mean of the pixels it covers."""
    edges = np.linspace(0, size, small + 1)
    pixels = np.arange(size)
    overlap = np.clip(np.minimum(edges[1:, None], pixels + 1) - np.maximum(edges[:-1, None], pixels), 0, None)
    return overlap / overlap.sum(axis=1, keepdims=True)


def _bilinear(small, size):
    """``(size, small)`` bilinear interpolation back to ``size`` (pixel centres aligned)."""
    return bilinear_weights((np.arange(size) + 0.5) * small / size - 0.5, small)


def strictness(reproduction):
    """``c`` of a pair from its more detailed image's reproduction (see the module)."""
    share = np.clip((np.asarray(reproduction, dtype=np.float64) - PLAIN_BELOW) / (STRICT_FROM - PLAIN_BELOW), 0, 1)
    return STRICTEST * share


def stricter(score, reproduction):
    """``score`` remapped by the pair's ``strictness``: 1 stays 1, ``c`` and below become 0."""
    c = strictness(reproduction)
    return np.clip((np.asarray(score, dtype=np.float64) - c) / (1 - c), 0, 1)
