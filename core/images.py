"""Decoding image files into one batch array of a common size and colour mode."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from PIL import Image, UnidentifiedImageError

COLOR_MODES = {"rgb": "RGB", "gray": "L"}
NORMALIZATIONS = ("none", "mean", "contrast")


class ImageReadError(ValueError):
    """An image file could not be read; names the file and the fix."""


def load_image(path, size=(32, 32), color="rgb"):
    """Decode ``path`` and resize it to ``size`` (width, height) in ``color`` mode.

    Returns float32 values in [0, 1], shape ``(height, width, channels)``.
    """
    if color not in COLOR_MODES:
        raise ValueError(f"color must be one of {sorted(COLOR_MODES)}, got {color!r}")
    try:
        with Image.open(path) as image:
            image = image.convert(COLOR_MODES[color])
            if image.size != tuple(size):
                image = image.resize(tuple(size), Image.Resampling.BILINEAR)
            pixels = np.asarray(image, dtype=np.float32) / 255.0
    except FileNotFoundError as error:
        raise ImageReadError(f"image file {path} does not exist; fix or remove the sample") from error
    except (UnidentifiedImageError, OSError) as error:
        raise ImageReadError(
            f"cannot decode image file {path} ({error}); fix or remove the sample"
        ) from error
    return pixels.reshape(size[1], size[0], -1)


def load_images(paths, size=(32, 32), color="rgb", workers=4, progress=None):
    """Decode every path into one ``(n, height, width, channels)`` float32 array.

    Decoding runs in ``workers`` threads (PIL releases the GIL while decoding).
    ``progress(done, total)`` is called as images finish.
    """
    paths = list(paths)
    channels = 3 if color == "rgb" else 1
    batch = np.empty((len(paths), size[1], size[0], channels), dtype=np.float32)

    def decode(index):
        batch[index] = load_image(paths[index], size, color)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for done, _ in enumerate(pool.map(decode, range(len(paths))), start=1):
            if progress is not None and (done % 256 == 0 or done == len(paths)):
                progress(done, len(paths))
    return batch


def normalize_images(images, normalization="contrast"):
    """Remove per-image brightness (``"mean"``) or brightness and contrast (``"contrast"``:
    zero mean, unit standard deviation per image), so that a re-exposed copy of an image
    lands next to it. Constant images stay all zero. Works on the whole batch at once."""
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}")
    images = np.asarray(images, dtype=np.float32)
    if normalization == "none":
        return images
    axes = tuple(range(1, images.ndim))
    centred = images - images.mean(axis=axes, keepdims=True)
    if normalization == "mean":
        return centred
    spread = centred.std(axis=axes, keepdims=True)
    return np.divide(centred, spread, out=np.zeros_like(centred), where=spread > 1e-6)
