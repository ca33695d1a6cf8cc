"""Batched 2-D discrete wavelet transforms (Algorithm 1, step 2)."""

import numpy as np
import pywt


def wavelet_coefficients(
    images, wavelet="db1", level=1, mode="periodization", approximation_only=False
):
    """Return the 2-D wavelet coefficients of every image as one row each.

    ``images`` is ``(n, height, width)`` or ``(n, height, width, channels)``. The transform
    runs over the spatial axes only (PyWavelets' default ``axes=(-2, -1)`` would mix width
    and channels) and on the whole batch at once. Rows list the coefficients in
    ``pywt.coeffs_to_array`` layout, channels last, so row ``i`` is the paper's ``W[i]``.
    With ``approximation_only`` only the coarsest (level ``level``) approximation is kept:
    blurrier, and so more tolerant of small shifts, crops and re-encoding.
    """
    images = np.asarray(images)
    if images.ndim not in (3, 4):
        raise ValueError(
            f"images must have shape (n, height, width[, channels]), got {images.shape}"
        )
    if images.shape[0] == 0:
        raise ValueError("no images to transform")
    max_level = pywt.dwtn_max_level(images.shape[1:3], wavelet)
    if not 1 <= level <= max(max_level, 1):
        raise ValueError(
            f"level={level} is too deep for {images.shape[1]}x{images.shape[2]} images "
            f"with wavelet {wavelet!r}: use a level between 1 and {max(max_level, 1)}"
        )
    coeffs = pywt.wavedec2(images, wavelet, mode=mode, level=level, axes=(1, 2))
    if approximation_only:
        array = coeffs[0]
    else:
        array, _ = pywt.coeffs_to_array(coeffs, axes=(1, 2))
    return array.reshape(len(images), -1)
