"""Near-duplicates as people make them: the edits real copies carry (re-crops, re-scales,
shifts, small rotations, colour grades, grey versions, re-encodes, blur, borders, overlays),
applied to real images so that every answer is known. The realistic-edit benchmark and the
tests score the pair score on these copies against natural negatives.

Geometric edits are given at a 32-pixel scale and applied proportionally to larger images
(a 2-pixel shift of a 32x32 image is a 32-pixel shift of a 512x512 one)."""

import io

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageOps

EDITS = (
    "exact", "jpeg_q95", "jpeg_q50", "jpeg_q20", "shift_1px", "shift_2px", "shift_4px",
    "crop_2", "crop_5", "crop_10", "crop_15", "crop_25", "aspect", "rotate_1", "rotate_3",
    "white_balance", "saturation", "gamma", "contrast", "grey", "blur", "sharpen",
    "down_up", "border", "letterbox", "text", "logo", "hflip",
)  # fmt: skip
"""Every edit; ``crop_25`` is the heavy crop, ``hflip`` counts only when the user says so."""
HEAVY = ("crop_25",)
OPTIONAL = ("hflip",)


def apply_edit(pixels, edit, rng):
    """``edit`` applied to a uint8 image (H, W) or (H, W, 3); returns uint8 of the same shape
    (``grey`` returns the grey version in the original's channel count)."""
    image = Image.fromarray(np.asarray(pixels, dtype=np.uint8))
    width, height = image.size
    unit = min(width, height) / 32.0  # one pixel at the 32-pixel scale
    if edit == "exact":
        result = image
    elif edit.startswith("jpeg_q"):
        result = _jpeg(image, int(edit[len("jpeg_q") :]))
    elif edit.startswith("shift_"):
        step = max(1, round(int(edit[len("shift_") : -2]) * unit))
        result = _shift(image, step * rng.choice([-1, 1]), step * rng.choice([-1, 0, 1]))
    elif edit.startswith("crop_"):
        result = _crop(image, int(edit[len("crop_") :]) / 100, int(edit[len("crop_") :]) / 100, rng)
    elif edit == "aspect":
        result = _crop(image, 0.15, 0.0, rng) if rng.random() < 0.5 else _crop(image, 0.0, 0.15, rng)
    elif edit.startswith("rotate_"):
        angle = float(edit[len("rotate_") :]) * rng.choice([-1, 1])
        result = _crop(image.rotate(angle, Image.Resampling.BICUBIC), 0.06, 0.06, rng, centred=True)
    elif edit == "white_balance":
        gains = np.array([1.12, 1.0, 0.88]) if rng.random() < 0.5 else np.array([0.9, 1.0, 1.12])
        result = _map(image, lambda values: values * (gains if values.ndim == 3 else gains[0]))
    elif edit == "saturation":
        result = ImageEnhance.Color(image).enhance(rng.choice([0.5, 1.6]))
    elif edit == "gamma":
        gamma = rng.choice([0.7, 1.4])
        result = _map(image, lambda values: 255.0 * (values / 255.0) ** gamma)
    elif edit == "contrast":
        result = ImageEnhance.Contrast(image).enhance(rng.choice([0.7, 1.35]))
    elif edit == "grey":
        result = ImageOps.grayscale(image).convert(image.mode)
    elif edit == "blur":
        result = image.filter(ImageFilter.GaussianBlur(0.8 * unit))
    elif edit == "sharpen":
        result = image.filter(ImageFilter.UnsharpMask(radius=max(1.0, unit), percent=120, threshold=2))
    elif edit == "down_up":
        small = image.resize((max(1, width // 2), max(1, height // 2)), Image.Resampling.BILINEAR)
        result = small.resize((width, height), Image.Resampling.BILINEAR)
    elif edit == "border":
        result = _frame(image, 2 * unit, 2 * unit, rng)
    elif edit == "letterbox":
        result = _frame(image, 0, 0.12 * height, rng, color=0)
    elif edit == "text":
        result = _text(image, unit, rng)
    elif edit == "logo":
        result = _logo(image, unit, rng)
    elif edit == "hflip":
        result = ImageOps.mirror(image)
    else:
        raise ValueError(f"unknown edit {edit!r}; use one of {EDITS}")
    return np.asarray(result.convert(image.mode), dtype=np.uint8)


def _jpeg(image, quality):
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return decoded.convert(image.mode)


def _shift(image, dx, dy):
    """Content moved by (dx, dy) pixels, the uncovered edge filled by its nearest row/column."""
    pixels = np.asarray(image)
    height, width = pixels.shape[:2]
    rows = np.clip(np.arange(height) - dy, 0, height - 1)
    columns = np.clip(np.arange(width) - dx, 0, width - 1)
    return Image.fromarray(pixels[rows][:, columns])


def _crop(image, fraction_x, fraction_y, rng, centred=False):
    """Remove ``fraction`` of the width/height (split between the sides at random, or evenly)
    and scale the rest back to the original size."""
    width, height = image.size
    keep_w, keep_h = width * (1 - fraction_x), height * (1 - fraction_y)
    left = (width - keep_w) * (0.5 if centred else rng.random())
    top = (height - keep_h) * (0.5 if centred else rng.random())
    return image.resize((width, height), Image.Resampling.BICUBIC, box=(left, top, left + keep_w, top + keep_h))


def _map(image, function):
    values = np.asarray(image, dtype=np.float64)
    return Image.fromarray(np.clip(np.rint(function(values)), 0, 255).astype(np.uint8))


def _frame(image, pad_x, pad_y, rng, color=None):
    """The image shrunk inside a solid frame (border, or letterbox bars) of the same size."""
    width, height = image.size
    inner = (max(1, round(width - 2 * pad_x)), max(1, round(height - 2 * pad_y)))
    fill = int(rng.integers(0, 256)) if color is None else color
    canvas = Image.new(image.mode, (width, height), fill if image.mode == "L" else (fill,) * 3)
    canvas.paste(image.resize(inner, Image.Resampling.BICUBIC), ((width - inner[0]) // 2, (height - inner[1]) // 2))
    return canvas


def _text(image, unit, rng):
    """A small caption in a corner, as stock-photo and social-media copies carry."""
    overlay = image.copy()
    draw = ImageDraw.Draw(overlay)
    width, height = image.size
    size = max(6, round(5 * unit))
    from PIL import ImageFont

    font = ImageFont.load_default(size=size)
    x = rng.choice([1, width - 4 * size])
    y = rng.choice([1, height - size - 2])
    fill = 255 if image.mode == "L" else (255, 255, 255)
    draw.text((x, y), "©2019", fill=fill, font=font)
    return overlay


def _logo(image, unit, rng):
    """A small opaque mark in a corner (a watermark logo)."""
    overlay = image.copy()
    draw = ImageDraw.Draw(overlay)
    width, height = image.size
    side = max(2, round(5 * unit))
    x = rng.choice([round(unit), width - side - round(unit)])
    y = rng.choice([round(unit), height - side - round(unit)])
    color = int(rng.integers(0, 256))
    draw.ellipse((x, y, x + side, y + side), fill=color if image.mode == "L" else (color, 255 - color, 128))
    return overlay
