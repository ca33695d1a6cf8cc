"""Batched 2-D discrete wavelet transforms (Algorithm 1, step 2).

PyWavelets on the CPU; on a CUDA GPU (periodization mode, even sizes at every level) the
same transform as strided 1-D convolutions in torch, equal to PyWavelets' coefficients.
"""

import numpy as np
import pywt

from .devices import resolve_device


def wavelet_coefficients(
    images, wavelet="db1", level=1, mode="periodization", approximation_only=False, device=None
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
    if resolve_device(device) == "cuda" and _torch_supports(images.shape, level, mode):
        coeffs = torch_wavedec2(images, wavelet, level, "cuda", approximation_only)
    else:
        coeffs = pywt.wavedec2(images, wavelet, mode=mode, level=level, axes=(1, 2))
    if approximation_only:
        array = coeffs[0]
    else:
        array, _ = pywt.coeffs_to_array(coeffs, axes=(1, 2))
    return array.reshape(len(images), -1)


def _torch_supports(shape, level, mode):
    sizes = np.array(shape[1:3])
    return mode == "periodization" and all(np.all((sizes >> k) % 2 == 0) for k in range(level))


def torch_wavedec2(images, wavelet, level, device, approximation_only=False):
    """``pywt.wavedec2(images, wavelet, "periodization", level, axes=(1, 2))`` in torch on
    ``device``, returned as numpy arrays in PyWavelets' list layout."""
    import torch

    filters = pywt.Wavelet(wavelet)
    dtype = torch.float64 if images.dtype == np.float64 else torch.float32
    low = torch.tensor(filters.dec_lo, dtype=dtype, device=device)
    high = torch.tensor(filters.dec_hi, dtype=dtype, device=device)
    approximation = torch.as_tensor(images, dtype=dtype, device=device)
    if approximation.ndim == 3:
        approximation = approximation[..., None]
    details = []
    for _ in range(level):
        low_rows, high_rows = _periodized_step(approximation, low, high, dim=1)
        approximation, vertical = _periodized_step(low_rows, low, high, dim=2)
        if not approximation_only:
            horizontal, diagonal = _periodized_step(high_rows, low, high, dim=2)
            details.append(tuple(_to_numpy(band, images.ndim) for band in (horizontal, vertical, diagonal)))
    return [_to_numpy(approximation, images.ndim)] + details[::-1]


def _periodized_step(signal, low, high, dim):
    """One analysis step along ``dim``: ``a[k] = sum_m low[m] x[(2k + F/2 - m) mod N]``,
    PyWavelets' periodization convention, and the same with ``high``."""
    import torch

    signal = signal.movedim(dim, -1)
    length, taps = signal.shape[-1], low.shape[0]
    wrapped = torch.arange(1 - taps // 2, length + taps // 2, device=signal.device) % length
    padded = signal.index_select(-1, wrapped)
    batch_shape = padded.shape[:-1]
    kernels = torch.stack([low.flip(0), high.flip(0)])[:, None, :]
    both = torch.nn.functional.conv1d(padded.reshape(-1, 1, padded.shape[-1]), kernels, stride=2)
    low_band = both[:, 0].reshape(*batch_shape, length // 2).movedim(-1, dim)
    high_band = both[:, 1].reshape(*batch_shape, length // 2).movedim(-1, dim)
    return low_band, high_band


def _to_numpy(band, ndim):
    band = band.cpu().numpy()
    return band[..., 0] if ndim == 3 else band
