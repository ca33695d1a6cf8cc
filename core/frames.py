"""Frames: solid borders and letterbox bars that a copy adds around a shrunken picture.

A frame moves every pixel of the picture and fills the edges with one colour, so neither
the candidate descriptors nor the aligned similarity (whose zooms stop at 1.27) match the
copy with its original. Trimming the frame and scaling the picture back undoes both. Only
bands of one colour on two opposite sides count as a frame (a flat sky along one edge is
not one); on the realistic-edit benchmark this finds every bordered and letterboxed copy
and 0.3% of natural CIFAR-10 images (mostly objects on a white background, whose trimmed
version is still the same picture).
"""

import numpy as np

from .streaming import DiskRows, row_chunks

FRAME_TOLERANCE = 0.03
"""A frame line holds no pixel further than this (on a [0, 1] scale) from its colour."""
MOST_TRIMMED = 0.25
"""At most this share of the height (width) is trimmed from each side."""


def frame_widths(images, tolerance=FRAME_TOLERANCE, most=MOST_TRIMMED):
    """``(n, 4)`` widths in pixels of the solid bands along the top, bottom, left and right
    edges of ``(n, h, w[, c])`` images in [0, 1]: lines all within ``tolerance`` of the
    edge line's median colour, at most ``most`` of the side's length."""
    images = np.asarray(images, dtype=np.float32)
    n, height, width = images.shape[:3]
    pixels = images.reshape(n, height, width, -1)
    columns = pixels.transpose(0, 2, 1, 3)
    widths = np.zeros((n, 4), dtype=np.int64)
    for side, lines in enumerate((pixels, pixels[:, ::-1], columns, columns[:, ::-1])):
        edge = lines[:, 0]
        # only an edge line of one colour can start a frame: a cheap test on every image
        solid_edge = np.flatnonzero((edge.max(axis=1) - edge.min(axis=1)).max(axis=1) <= 2 * tolerance)
        limit = int(most * lines.shape[1])
        band = lines[solid_edge, :limit]
        color = np.median(band[:, 0], axis=1)
        solid = np.abs(band - color[:, None, None]).max(axis=(2, 3)) <= tolerance
        widths[solid_edge, side] = np.where(solid.all(axis=1), limit, solid.argmin(axis=1))
    return widths


def trim_frames(images):
    """``(framed, trimmed)``: the indices of the images with a frame on two opposite sides,
    and those images with the frame (and the line next to it) cut off and the picture
    scaled back to the full size (bilinear, antialiased), ``(len(framed), h, w[, c])``.
    ``images`` may be a ``streaming.DiskRows``, read by chunks (each image is judged on
    its own)."""
    if isinstance(images, DiskRows):
        chunks = [(start, _trim_frames(chunk)) for start, chunk in row_chunks(images)]
        framed = np.concatenate([start + framed for start, (framed, _) in chunks])
        return framed, np.concatenate([trimmed for _, (_, trimmed) in chunks])
    return _trim_frames(images)


def _trim_frames(images):
    images = np.asarray(images, dtype=np.float32)
    widths = frame_widths(images)
    vertical = (widths[:, 0] > 0) & (widths[:, 1] > 0)
    horizontal = (widths[:, 2] > 0) & (widths[:, 3] > 0)
    framed = np.flatnonzero(vertical | horizontal)
    height, width = images.shape[1:3]
    trimmed = np.empty((len(framed), *images.shape[1:]), dtype=np.float32)
    # one line more than the solid band: the line where frame and picture meet is a blend
    # of both after any re-scale
    cut = np.where(widths > 0, widths + 1, 0)
    for row, index in enumerate(framed):
        top, bottom = cut[index, :2] * vertical[index]
        left, right = cut[index, 2:] * horizontal[index]
        picture = images[index, top : height - bottom, left : width - right]
        rows = resize_operator(picture.shape[0], height)
        columns = resize_operator(picture.shape[1], width)
        trimmed[row] = np.einsum("ah,hw...,bw->ab...", rows, picture, columns, optimize=True)  # two products, not one 5-index loop
    return framed, trimmed


def resize_operator(source, target):
    """The ``target x source`` matrix of antialiased bilinear weights that resizes one
    axis: a triangle filter, stretched by the scale when shrinking, normalised over the
    pixels it covers (PIL's resampling, and torch's ``interpolate(..., "bilinear",
    align_corners=False, antialias=True)``)."""
    scale = source / target
    stretch = max(scale, 1.0)
    centres = scale * (np.arange(target) + 0.5)
    # the pixels each output reads, truncated as PIL does in C
    first = np.maximum((centres - stretch + 0.5).astype(np.int64), 0)
    stop = np.minimum((centres + stretch + 0.5).astype(np.int64), source)
    pixels = np.arange(source)
    weights = np.clip(1 - np.abs((pixels[None] - centres[:, None] + 0.5) / stretch), 0, None)
    weights[(pixels[None] < first[:, None]) | (pixels[None] >= stop[:, None])] = 0
    return (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)
