"""Batched structural similarity (Wang et al. 2004) equal to ``skimage.metrics.
structural_similarity`` (Algorithm 2, step 1).

skimage filters each image with a Gaussian (or uniform) window in "reflect" mode and
averages the SSIM map away from a border of half a window. Filtering is linear, so on a
fixed image size it is two small matrices: ``A`` (rows) and ``B`` (columns), already
cropped, with ``filter(Z)[crop] = A @ Z @ B.T``. Per-image means and variances are
computed once; each pair then costs one product image and two small matrix products,
done for thousands of pairs at once (``core.arrays``: torch on the CPU or a GPU, or numpy).
"""

import numpy as np
from scipy import ndimage

from .arrays import arrays, to_numpy

TRUNCATE = 3.5  # skimage's Gaussian window: radius int(3.5 * sigma + 0.5)


def window_operators(height, width, gaussian_weights=True, sigma=1.5, win_size=7):
    """The cropped filter matrices ``(A, B)`` and the window size skimage would use."""
    if gaussian_weights:
        win_size = 2 * int(TRUNCATE * sigma + 0.5) + 1
    if win_size % 2 == 0 or win_size < 3:
        raise ValueError(f"win_size must be an odd number of at least 3, got {win_size}")
    if min(height, width) < win_size:
        raise ValueError(
            f"SSIM's {win_size}x{win_size} window does not fit {height}x{width} images; "
            f"resize images to at least {win_size} pixels"
        )
    pad = (win_size - 1) // 2

    def operator(length):
        identity = np.eye(length)
        if gaussian_weights:
            full = ndimage.gaussian_filter1d(identity, sigma, axis=0, mode="reflect", truncate=TRUNCATE)
        else:
            full = ndimage.uniform_filter1d(identity, win_size, axis=0, mode="reflect")
        return full[pad : length - pad]

    return operator(height), operator(width), win_size


class SSIMIndex:
    """Images prepared for SSIM between any pairs of them, or against another index.

    ``images``: ``(n, height, width)`` or ``(n, height, width, channels)`` floats in
    ``[0, data_range]``. The defaults are Wang et al.'s: an 11x11 Gaussian window with
    sigma 1.5 and population covariance, i.e. skimage's ``gaussian_weights=True,
    sigma=1.5, use_sample_covariance=False``. Colour SSIM is the mean over channels.
    """

    def __init__(self, images, data_range=1.0, gaussian_weights=True, sigma=1.5, win_size=7,
                 K1=0.01, K2=0.03, device=None, batch_pairs=None):  # fmt: skip
        images = np.asarray(images)
        if images.ndim == 3:
            images = images[..., None]
        if images.ndim != 4:
            raise ValueError(f"images must be (n, height, width[, channels]), got {images.shape}")
        self.xp = arrays(device)
        self.device = self.xp.device
        # float32: within 1e-5 of float64 on [0, 1] images, twice as fast
        rows, columns, self.win_size = window_operators(
            images.shape[1], images.shape[2], gaussian_weights, sigma, win_size
        )
        self._rows = self.xp.asarray(rows)
        self._columns = self.xp.asarray(columns)
        self.c1 = (K1 * data_range) ** 2
        self.c2 = (K2 * data_range) ** 2
        # small batches keep the CPU's working set in cache; a GPU wants large ones
        self.batch_pairs = batch_pairs or (128 if self.device == "cpu" else 8192)
        # (n, channels, height, width), and per-image windowed means and variances
        self.images = self.xp.asarray(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))
        self.means = self._filter(self.images)
        self.squared_means = self.means**2
        self.variances = self._filter(self.images * self.images) - self.squared_means

    def __len__(self):
        return len(self.images)

    def _filter(self, stack):
        return self._rows @ stack @ self._columns.T

    def pairs(self, first, second, other=None):
        """SSIM of ``self[first[k]]`` with ``other[second[k]]`` (``other`` defaults to
        this index) for every k, as a float64 numpy array."""
        other = self if other is None else other
        if other.images.shape[1:] != self.images.shape[1:]:
            raise ValueError("both indexes must hold images of one size and channel count")
        first = np.asarray(first, dtype=np.int64)
        second = np.asarray(second, dtype=np.int64)
        values = np.empty(len(first))
        for start in range(0, len(first), self.batch_pairs):
            i = self.xp.indices(first[start : start + self.batch_pairs])
            j = self.xp.indices(second[start : start + self.batch_pairs])
            covariance = self._filter(self.images[i] * other.images[j])
            means_product = self.means[i]
            means_product *= other.means[j]
            covariance -= means_product
            covariance *= 2
            covariance += self.c2
            numerator = means_product
            numerator *= 2
            numerator += self.c1
            numerator *= covariance
            denominator = self.squared_means[i]
            denominator += other.squared_means[j]
            denominator += self.c1
            spread = self.variances[i]
            spread += other.variances[j]
            spread += self.c2
            denominator *= spread
            numerator /= denominator  # the SSIM map
            values[start : start + len(i)] = to_numpy(self.xp.float64(numerator.mean(axis=(1, 2, 3))))
        return values

    def one_to_many(self, index, others=None, other=None):
        """SSIM of image ``index`` with ``others`` (all of ``other`` when None)."""
        other = self if other is None else other
        others = np.arange(len(other)) if others is None else np.asarray(others)
        return self.pairs(np.full(len(others), index), others, other)
