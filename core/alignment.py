"""Pair verification that tolerates what real copies do to an image: small shifts,
re-crops and re-scales, and colour changes (white balance, gamma, contrast, grey versions).

Both images are compared on their luminance, standardised per image (zero mean, unit
spread), which removes brightness, contrast and colour cast. One of the two is zoomed by
each of a few scales (a crop of 2-25% scaled back is a zoom by 1.02-1.33), the shift that
best aligns it with the other is found by normalised cross-correlation over every integer
shift within ``max_shift`` pixels, and SSIM (Wang et al.'s Gaussian window) is computed on
the overlap at the best alignment.

A search over shifts and zooms finds some agreement between any two images with little
structure (a single edge, a blurred handwritten digit), so the similarity is discounted by
what an image gives away for free: its SSIM with itself moved by ``baseline_shift`` pixels
(the highest of the four directions; low for a detailed photograph, high for a smooth
image or a stroke along the shift). The score is ``(s - b) / (1 - b)`` with ``b`` the
smaller of the two images' baselines (a blurred copy of a sharp photograph is judged by
the photograph's detail): 1 for an exact copy, 0 for a pair no more alike than an image is
to itself moved by one pixel. Batched for thousands of pairs at once (``core.arrays``:
torch on the CPU or a GPU, or numpy and scipy where torch is not installed).
"""

import numpy as np

from .arrays import arrays, to_numpy
from .parallel import local_map
from .ssim import window_operators

DEFAULT_SCALES = (1.0, 1.08, 1.17, 1.27)
DEFAULT_STRETCHES = (1.17,)
"""Zooms along one axis only (an aspect change: 15% cut from one side, scaled back)."""
STRETCH_CORRELATION = 0.8
"""Stretches are tried on pairs whose best zoom correlates at least this well."""
BASELINE_SHIFT = 1
REFINED_CONTRAST = 0.5
"""A half-pixel refinement keeps at least this share of the integer window's contrast
(a mild blur of a photograph keeps 0.8 or more; an averaged one-pixel pattern none)."""
SPREAD = 0.2
"""Standardised images are mapped to mean 0.5 and this spread, so SSIM's stabilising
constants (data range 1) weigh them as they weigh an ordinary photograph."""


def luminance(images):
    """ITU-R 601 luma of ``(n, h, w[, c])`` images (grey images pass through)."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 4 and images.shape[-1] == 3:
        return images @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return images.reshape(images.shape[:3])


def standardize(images, spread=SPREAD):
    """Per-image zero mean and unit spread, then mapped to mean 0.5 and ``spread``; a flat
    image becomes flat 0.5."""
    images = np.asarray(images, dtype=np.float32)
    axes = tuple(range(1, images.ndim))
    centred = images - images.mean(axis=axes, keepdims=True)
    deviation = centred.std(axis=axes, keepdims=True)
    scaled = np.divide(centred, deviation, out=np.zeros_like(centred), where=deviation > 1e-4)
    return 0.5 + spread * scaled


class AlignedSimilarity:
    """Images prepared for aligned similarity between any pairs of them, or against another
    set prepared alike (same size).

    ``images``: ``(n, h, w[, c])`` floats in [0, 1]. ``max_shift``: the largest shift in
    pixels searched at each scale; ``scales``: zoom factors tried on either image;
    ``stretches``: zoom factors tried along one axis at a time, on either image;
    ``flips``: also try the mirrored image (a mirrored copy then scores as a copy).
    """

    def __init__(self, images, max_shift=4, scales=DEFAULT_SCALES, flips=False,
                 device=None, batch_pairs=None, baseline_shift=BASELINE_SHIFT,
                 stretches=DEFAULT_STRETCHES, baselines=None):  # fmt: skip
        self.xp = arrays(device)
        self.device = self.xp.device
        prepared = standardize(luminance(images))
        height, width = prepared.shape[1:]
        if min(height, width) - 2 * max_shift < 11:
            raise ValueError(
                f"{height}x{width} images leave no room for SSIM's 11x11 window after a "
                f"{max_shift}-pixel shift search; use images of at least {11 + 2 * max_shift} pixels"
            )
        self.max_shift = int(max_shift)
        scales = [float(scale) for scale in scales]
        self.zooms = [(scale, scale) for scale in scales]
        """Zooms of the moving image: every scale, then every stretch along either axis."""
        self.fixed_zooms = self.zooms[:]
        """Zooms of the fixed image: every scale."""
        # Either image zoomed, the other as it is; a stretch of the fixed image is the moving
        # image stretched along the other axis against the fixed one zoomed by the nearest
        # scale, so that the pair's order does not matter and no fixed image is stretched.
        self.variants = [(z, 0) for z in range(len(scales))] + [(0, z) for z in range(1, len(scales))]
        self.isotropic_variants = len(self.variants)
        for stretch in (float(stretch) for stretch in stretches):
            nearest = int(np.argmin([abs(scale - stretch) for scale in scales]))
            for zoom, other_axis in (((stretch, 1.0), (1.0, stretch)), ((1.0, stretch), (stretch, 1.0))):
                for moving in (zoom, other_axis):
                    if moving not in self.zooms:
                        self.zooms.append(moving)
                self.variants += [(self.zooms.index(zoom), 0), (self.zooms.index(other_axis), nearest)]
        self.flips = bool(flips)
        self.images = self.xp.asarray(prepared)
        self.batch_pairs = batch_pairs or (512 if self.device == "cpu" else 8192)
        inner = (height - 2 * self.max_shift, width - 2 * self.max_shift)
        rows, columns, _ = window_operators(*inner)
        self._rows = self.xp.asarray(rows)
        self._columns = self.xp.asarray(columns)
        if baselines is None:
            self.baselines = self._self_similarity(min(int(baseline_shift), self.max_shift))
        else:  # computed before for these images (most of the preparation's time)
            self.baselines = self.xp.asarray(baselines)

    def _self_similarity(self, shift):
        """Each image's highest SSIM with itself moved by ``shift`` pixels up, down, left
        or right (0 when ``shift`` is 0: no discount)."""
        if shift == 0:
            return self.xp.zeros(len(self.images))
        m = self.max_shift
        height, width = self.images.shape[1:]
        centres = self.images[:, m : height - m, m : width - m]
        similarities = []
        for dy, dx in ((0, shift), (0, -shift), (shift, 0), (-shift, 0)):
            moved = self.images[:, m + dy : height - m + dy, m + dx : width - m + dx]
            similarities.append(self._ssim(centres, moved))
        return self.xp.amax(self.xp.stack(similarities), 0).clip(0, 1)

    def __len__(self):
        return len(self.images)

    def pairs(self, first, second, other=None):
        """Aligned similarity of ``self[first[k]]`` with ``other[second[k]]`` (``other``
        defaults to this set) for every k, discounted by the pair's baseline: a float64
        array in [0, 1]."""
        return self.discount(self.raw_pairs(first, second, other), first, second, other)

    def discount(self, raw, first, second, other=None):
        """``(s - b) / (1 - b)`` of raw similarities, ``b`` the smaller baseline of each pair."""
        other = self if other is None else other
        baselines = np.minimum(
            to_numpy(self.baselines).astype(np.float64)[np.asarray(first, dtype=np.int64)],
            to_numpy(other.baselines).astype(np.float64)[np.asarray(second, dtype=np.int64)],
        )
        return np.clip((raw - baselines) / np.maximum(1 - baselines, 1e-3), 0, 1)

    def raw_pairs(self, first, second, other=None):
        """SSIM at the best alignment, before the discount (in [-1, 1])."""
        other = self if other is None else other
        if other.images.shape[1:] != self.images.shape[1:]:
            raise ValueError("both sets must hold images of one size")
        first = np.asarray(first, dtype=np.int64)
        second = np.asarray(second, dtype=np.int64)
        # pairs sharing a first image share its zoomed versions and their transforms
        order = np.argsort(first, kind="stable")
        batches = [order[start : start + self.batch_pairs] for start in range(0, len(first), self.batch_pairs)]

        def similarities(batch):
            unique_first, position = np.unique(first[batch], return_inverse=True)
            return self._batch(self.images[unique_first], position, other.images[second[batch]])

        values = np.empty(len(first))
        for batch, batch_values in zip(batches, local_map(similarities, batches, self.device)):
            values[batch] = batch_values
        return values

    def _batch(self, a, position, b):
        """Similarity of ``a[position[k]]`` with ``b[k]``: the best (zoom, shift) alignment
        by normalised cross-correlation, then SSIM on the aligned overlap."""
        xp = self.xp
        m = self.max_shift
        n, (height, width) = len(b), b.shape[1:]
        position = xp.indices(position)
        moving_sides = [_MovingSide(xp, _zoom(xp, a, zoom), m) for zoom in self.zooms]
        fixed_images = [b, xp.flip(b, 2)] if self.flips else [b]
        fixed_sides, variants, stretched = [], [], []
        for image in fixed_images:
            base = len(fixed_sides)
            fixed_sides += [_FixedSide(xp, _zoom(xp, image, zoom), m) for zoom in self.fixed_zooms]
            variants += [(s, base + f) for s, f in self.variants]
            stretched += [number >= self.isotropic_variants for number in range(len(self.variants))]
        correlations = xp.full((n, len(variants), (2 * m + 1) ** 2), -np.inf)
        for number, (s, f) in enumerate(variants):
            if not stretched[number]:
                correlations[:, number] = fixed_sides[f].correlate(moving_sides[s], position)
        # a stretch is tried only where a zoom already aligns the pair well: an aspect
        # change of a copy still correlates at 0.88 or more, 90% of other pairs below 0.8
        rows = xp.flatnonzero(xp.amax(correlations, (1, 2)) >= STRETCH_CORRELATION)
        for number, (s, f) in enumerate(variants):
            if stretched[number] and len(rows):
                correlations[rows, number] = fixed_sides[f].correlate(moving_sides[s], position, rows)
        best = correlations.reshape(n, -1).argmax(axis=1)
        variant, shift = best // correlations.shape[2], best % correlations.shape[2]
        inner = (height - 2 * m, width - 2 * m)
        fixed_crops = xp.empty((n, *inner))
        moving_crops = xp.empty_like(fixed_crops)
        for number in xp.unique(variant):
            rows = xp.flatnonzero(variant == number)
            s, f = variants[number]
            fixed_crops[rows] = fixed_sides[f].centres[rows]
            window = moving_sides[s].window(position[rows], shift[rows], inner, border=1)
            moving_crops[rows] = _refined(xp, fixed_sides[f].centres[rows], window)
        return to_numpy(xp.float64(self._ssim(fixed_crops, moving_crops)))

    def _ssim(self, x, y):
        """Mean SSIM (Wang et al., Gaussian window, data range 1) of each pair of crops."""
        c1, c2 = 0.01**2, 0.03**2

        def window(stack):
            return self._rows @ stack @ self._columns.T

        mean_x, mean_y = window(x), window(y)
        var_x = window(x * x) - mean_x**2
        var_y = window(y * y) - mean_y**2
        covariance = window(x * y) - mean_x * mean_y
        ssim_map = ((2 * mean_x * mean_y + c1) * (2 * covariance + c2)) / (
            (mean_x**2 + mean_y**2 + c1) * (var_x + var_y + c2)
        )
        return ssim_map.mean(axis=(1, 2))


def _zoom(xp, images, zoom):
    """The central ``1/zoom`` of each image (``zoom``: row and column factors) scaled back
    to full size (bilinear, edge pixels repeated), as two small matrix products: the zoom
    is separable."""
    if zoom == (1.0, 1.0):
        return images
    rows = xp.asarray(_zoom_operator(images.shape[1], zoom[0]))
    columns = xp.asarray(_zoom_operator(images.shape[2], zoom[1]))
    return rows @ images @ columns.T


def _zoom_operator(length, scale):
    """The ``length x length`` matrix of bilinear weights that samples pixel centres
    ``(i + 1/2 - length/2) / scale`` around the centre (as ``grid_sample`` with
    ``align_corners=False`` and border padding does)."""
    source = (np.arange(length) + 0.5 - length / 2) / scale + length / 2 - 0.5
    return bilinear_weights(source, length)


def bilinear_weights(positions, length):
    """The ``(len(positions), length)`` matrix that samples a row of ``length`` pixels at
    ``positions`` (pixel indices, clipped to the row) by linear interpolation."""
    positions = np.clip(positions, 0, length - 1)
    below = np.floor(positions).astype(np.int64)
    above = np.minimum(below + 1, length - 1)
    weight = positions - below
    weights = np.zeros((len(positions), length))
    np.add.at(weights, (np.arange(len(positions)), below), 1 - weight)
    np.add.at(weights, (np.arange(len(positions)), above), weight)
    return weights


class _MovingSide:
    """Images whose windows slide over them: their transforms and every window's spread."""

    def __init__(self, xp, images, margin):
        self.xp = xp
        self.images = images
        height, width = images.shape[1:]
        kernel = (height - 2 * margin, width - 2 * margin)
        self.size = kernel[0] * kernel[1]
        self.spectrum = xp.rfft2(images, images.shape[1:])
        mean = _window_means(xp, images, kernel)
        mean_square = _window_means(xp, images**2, kernel)
        self.spread = xp.float32(xp.sqrt((mean_square - mean**2).clip(1e-10, None)))

    def window(self, rows, shift, inner, border=0):
        """The window of ``images[rows[k]]`` at flat shift index ``shift[k]``, widened by
        ``border`` pixels on every side (edge pixels repeated past the image)."""
        side = self.spread.shape[2]
        height, width = self.images.shape[1:]
        top, left = shift // side - border, shift % side - border
        row_index = (top[:, None] + self.xp.arange(inner[0] + 2 * border)[None]).clip(0, height - 1)
        column_index = (left[:, None] + self.xp.arange(inner[1] + 2 * border)[None]).clip(0, width - 1)
        return self.images[rows[:, None, None], row_index[:, :, None], column_index[:, None, :]]


def _window_means(xp, images, kernel):
    """Mean of every ``kernel``-sized window of each image (stride 1), from a summed-area
    table in float64: a few passes over the image instead of one sum per window."""
    table = xp.pad_before(xp.float64(images).cumsum(axis=1).cumsum(axis=2))
    height, width = kernel
    sums = table[:, height:, width:] - table[:, :-height, width:] - table[:, height:, :-width] + table[:, :-height, :-width]
    return sums / (height * width)


def _refined(xp, centres, patches):
    """The half-pixel refinement of an integer alignment: of the windows at offsets -1/2, 0
    and +1/2 pixel in each direction (bilinear, from ``patches``, the integer window
    widened by one pixel), the one whose normalised cross-correlation with ``centres`` is
    highest. A smooth image loses little to a one-pixel shift, so it would lose as much to
    the half pixel an integer search leaves."""

    def halves(stack, axis):
        length = stack.shape[axis] - 2
        whole = _narrow(stack, axis, 1, length)
        return [(_narrow(stack, axis, 0, length) + whole) / 2, whole, (whole + _narrow(stack, axis, 2, length)) / 2]

    candidates = xp.stack([window for rows in halves(patches, 1) for window in halves(rows, 2)], 1)
    flat = candidates.reshape(*candidates.shape[:2], -1)
    centred = flat - flat.mean(axis=2, keepdims=True)
    target = centres.reshape(len(centres), -1)
    target = target - target.mean(axis=1, keepdims=True)
    spread = xp.norm(centred, 2)
    ncc = (centred * target[:, None]).sum(axis=2) / (spread * xp.norm(target, 1)[:, None]).clip(1e-12, None)
    # a half-pixel window that averages away the window's contrast (a one-pixel checkerboard
    # becomes flat grey, which matches any flat image) is not an alignment of it
    whole = spread[:, 4:5]  # the integer window itself: halves' middle in both directions
    ncc = xp.masked_fill(ncc, spread < REFINED_CONTRAST * whole, -2.0)
    return candidates[xp.arange(len(candidates)), ncc.argmax(axis=1)]


def _narrow(stack, axis, start, length):
    """``stack[..., start : start + length, ...]`` along ``axis`` (a view)."""
    return stack[(slice(None),) * axis + (slice(start, start + length),)]


class _FixedSide:
    """Images whose centre (without a ``margin`` border) stays put, standardised, with the
    conjugate transform of the zero-padded centre."""

    def __init__(self, xp, images, margin):
        self.xp = xp
        height, width = images.shape[1:]
        self.centres = images[:, margin : height - margin, margin : width - margin]
        centred = self.centres - self.centres.mean(axis=(1, 2), keepdims=True)
        centred = centred / xp.sqrt((centred**2).mean(axis=(1, 2), keepdims=True)).clip(1e-6, None)
        self.spectrum = xp.conj(xp.rfft2(centred, (height, width)))  # the centre zero-padded
        self.shape = (height, width)

    def correlate(self, moving, position, rows=None):
        """Normalised cross-correlation of each centre (of ``rows`` only, when given) with
        every window of ``moving.images[position[k]]``, flattened: ``(n, (2 margin +
        1)**2)``. Circular correlation equals the linear one for these shifts, and the
        centre has zero mean, so a window's own mean drops out of the product."""
        side = moving.spread.shape[1]
        spectrum = self.spectrum if rows is None else self.spectrum[rows]
        position = position if rows is None else position[rows]
        products = self.xp.irfft2_corner(moving.spectrum[position] * spectrum, self.shape, (side, side))
        ncc = products / (moving.size * moving.spread[position])
        return ncc.reshape(len(ncc), -1)
