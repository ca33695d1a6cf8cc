"""The array operations of the pair score's kernels, for torch and for numpy.

The kernels (``ssim.SSIMIndex``, ``alignment.AlignedSimilarity``, the blocked neighbour
searches of ``neighbors``) are written once against ``arrays(device)``: arithmetic,
slicing, indexing and the reductions both libraries spell alike (``x.mean(axis=...,
keepdims=...)``, ``x.argmax(axis=...)``) on the arrays themselves, and through this
namespace what they spell differently (making an array on a device, FFTs, top-k). torch
runs them as it always has, on a GPU when there is one; numpy and scipy run them where
torch is not installed (``devices.array_library``), in float32 as torch does, so that
both give the same scores (``tests/test_arrays.py``).
"""

import contextlib

import numpy as np
import scipy.fft

from .devices import array_library, resolve_device


def arrays(device=None):
    """The namespace that runs array work on ``device`` (as ``resolve_device`` resolves
    it): ``TorchArrays`` when torch is the array library, else ``NUMPY``."""
    device = resolve_device(device)
    return NUMPY if array_library() == "numpy" else _torch_arrays(device)


def to_numpy(array):
    """A numpy array of ``array`` (a torch tensor, on any device, or a numpy array)."""
    return array if isinstance(array, np.ndarray) else array.cpu().numpy()


class NumpyArrays:
    """numpy and scipy on the CPU."""

    library = "numpy"
    device = "cpu"

    def asarray(self, values, dtype="float32"):
        return np.asarray(values, dtype=dtype)

    def indices(self, values):
        return np.asarray(values, dtype=np.int64)

    def zeros(self, shape):
        return np.zeros(shape, dtype=np.float32)

    def empty(self, shape):
        return np.empty(shape, dtype=np.float32)

    def full(self, shape, value):
        return np.full(shape, value, dtype=np.float32)

    def arange(self, stop):
        return np.arange(stop)

    def flatnonzero(self, mask):
        return np.flatnonzero(mask)

    def nonzero(self, mask):
        return np.nonzero(mask)

    def stack(self, arrays, axis=0):
        return np.stack(arrays, axis=axis)

    def amax(self, array, axis):
        return np.amax(array, axis=axis)

    def flip(self, array, axis):
        return np.flip(array, axis=axis)

    def unique(self, array):
        return np.unique(array).tolist()

    def float32(self, array):
        return array.astype(np.float32)

    def float64(self, array):
        return array.astype(np.float64)

    def norm(self, array, axis):
        return np.linalg.norm(array, axis=axis)

    def rfft2(self, images, shape):
        """The 2-D real transform of ``images`` zero-padded to ``shape`` (a transform of
        the rows, then of the columns, as ``rfft2``, with no padded rows transformed)."""
        return scipy.fft.fft(scipy.fft.rfft(images, n=shape[1], axis=2), n=shape[0], axis=1)

    def irfft2_corner(self, spectra, shape, corner):
        """The top-left ``corner`` (rows, columns) of ``irfft2(spectra, shape)``, with
        only the rows kept transformed back along the columns."""
        rows = scipy.fft.ifft(spectra, axis=1)[:, : corner[0]]
        return scipy.fft.irfft(rows, n=shape[1], axis=2)[:, :, : corner[1]]

    def pad_before(self, images):
        """A zero row before the first and a zero column before the first of each image."""
        return np.pad(images, ((0, 0), (1, 0), (1, 0)))

    def add_product(self, bias, first, second, out=None):
        """``bias + first @ second`` (into ``out`` when given)."""
        product = np.matmul(first, second, out=out)
        product += bias
        return product

    def masked_fill(self, array, mask, value):
        np.putmask(array, mask, value)
        return array

    def top_k(self, scores, k):
        """Column indices of each row's ``k`` highest scores, highest first (ties: the
        lower index first)."""
        if k < scores.shape[1]:
            top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        else:
            top = np.broadcast_to(np.arange(scores.shape[1]), scores.shape)
        values = np.take_along_axis(scores, top, axis=1)
        order = np.lexsort((top, -values), axis=1)
        return np.take_along_axis(top, order, axis=1)

    def inference(self):
        return contextlib.nullcontext()

    empty_like = staticmethod(np.empty_like)
    sqrt = staticmethod(np.sqrt)
    conj = staticmethod(np.conj)


NUMPY = NumpyArrays()


class TorchArrays:
    """torch on ``device`` ("cpu" or "cuda")."""

    library = "torch"

    def __init__(self, device):
        import torch

        self.torch = torch
        self.device = device

    def asarray(self, values, dtype="float32"):
        return self.torch.as_tensor(values, dtype=getattr(self.torch, dtype), device=self.device)

    def indices(self, values):
        return self.torch.as_tensor(np.asarray(values, dtype=np.int64), device=self.device)

    def zeros(self, shape):
        return self.torch.zeros(shape, device=self.device)

    def empty(self, shape):
        return self.torch.empty(shape, device=self.device)

    def full(self, shape, value):
        return self.torch.full(shape, value, device=self.device)

    def arange(self, stop):
        return self.torch.arange(stop, device=self.device)

    def flatnonzero(self, mask):
        return self.torch.nonzero(mask).flatten()

    def nonzero(self, mask):
        return self.torch.nonzero(mask, as_tuple=True)

    def stack(self, arrays, axis=0):
        return self.torch.stack(arrays, dim=axis)

    def amax(self, array, axis):
        return self.torch.amax(array, dim=axis)

    def flip(self, array, axis):
        return self.torch.flip(array, dims=(axis,))

    def unique(self, array):
        return self.torch.unique(array).tolist()

    def float32(self, array):
        return array.float()

    def float64(self, array):
        return array.double()

    def norm(self, array, axis):
        return array.norm(dim=axis)

    def rfft2(self, images, shape):
        fft = self.torch.fft
        return fft.fft(fft.rfft(images, n=shape[1], dim=2), n=shape[0], dim=1)

    def irfft2_corner(self, spectra, shape, corner):
        fft = self.torch.fft
        return fft.irfft(fft.ifft(spectra, dim=1)[:, : corner[0]], n=shape[1], dim=2)[:, :, : corner[1]]

    def pad_before(self, images):
        return self.torch.nn.functional.pad(images, (1, 0, 1, 0))

    def add_product(self, bias, first, second, out=None):
        return self.torch.addmm(bias, first, second, out=out)

    def masked_fill(self, array, mask, value):
        return array.masked_fill_(mask, value)

    def top_k(self, scores, k):
        return self.torch.topk(scores, k, dim=1).indices

    def inference(self):
        return self.torch.inference_mode()

    def empty_like(self, array):
        return self.torch.empty_like(array)

    def sqrt(self, array):
        return self.torch.sqrt(array)

    def conj(self, array):
        return self.torch.conj(array)


_TORCH_ARRAYS = {}
"""One ``TorchArrays`` per device. A dict, not ``functools.cache``: functions that run as
Ray tasks travel by value when FiftyOne's plugin loader imported this package, and a
``functools`` cache travels by name, which no worker can import (``core.parallel``)."""


def _torch_arrays(device):
    if device not in _TORCH_ARRAYS:
        _TORCH_ARRAYS[device] = TorchArrays(device)
    return _TORCH_ARRAYS[device]
