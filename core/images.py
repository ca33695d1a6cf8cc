"""Decoding image files into one batch array of a common size and colour mode."""

import os
import stat
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .parameters import check_choice

COLORS = {"rgb": "RGB", "gray": "Grayscale"}
"""The colour modes, in the words the forms offer them."""
PIL_MODES = {"rgb": "RGB", "gray": "L"}
EXIF_ORIENTATION = 0x0112
TRANSPOSING_ORIENTATIONS = (5, 6, 7, 8)  # stored on their side: width and height swap
NORMALIZATIONS = {"contrast": "Brightness and contrast", "mean": "Brightness only", "none": "None (the paper)"}
"""The per-image normalizations, in the words the forms offer them."""


DECODE_SECONDS = 120.0
"""How long one image may take to read and decode before it counts as unreadable (a
network share that stopped answering): the run names the file instead of waiting forever."""
POLL_SECONDS = 1.0
"""How often a batch that is waiting on slow reads reports progress, so a cancel is heard."""
IMAGES_PER_TASK = 16
"""Images one thread decodes per task (a wait per task, not per image, keeps the overhead low)."""


class ImageReadError(ValueError):
    """An image file could not be read; names the file and the fix."""


NOT_REGULAR = {stat.S_IFIFO: "a named pipe", stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
               stat.S_IFDIR: "a folder", stat.S_IFSOCK: "a socket"}  # fmt: skip


def check_regular_file(path):
    """Refuse, before opening it, a path that is not a regular file: reading a named pipe
    or a device can block forever or never end."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError as error:
        raise ImageReadError(f"image file {path} does not exist; fix or remove the sample") from error
    except (OSError, TypeError, ValueError) as error:
        raise ImageReadError(f"cannot read image file {path} ({error}); fix or remove the sample") from error
    if not stat.S_ISREG(mode):
        kind = NOT_REGULAR.get(stat.S_IFMT(mode), "not a regular file")
        raise ImageReadError(f"image file {path} is {kind}, not a regular file; fix or remove the sample")


def load_image(path, size=(32, 32), color="rgb", notes=None):
    """Decode ``path`` and resize it to ``size`` (width, height) in ``color`` mode.

    Any PIL mode is accepted: palette and alpha images are flattened to RGB, 16-bit and
    float images are scaled by their type's range (not clipped at 255), and large JPEGs
    are decoded at a reduced scale first. The EXIF orientation is applied, as the App and
    photo viewers do, so a phone photo stored on its side matches its upright copy. NaN
    and infinite pixels of a float image take its lowest finite value, and a line saying
    so is appended to ``notes`` (a list) when given. Returns float32 values in [0, 1],
    shape ``(height, width, channels)``. Failures raise ``ImageReadError`` naming the file.
    """
    check_choice("color", color, COLORS)
    check_regular_file(path)
    try:
        with Image.open(path) as image:
            turned = image.getexif().get(EXIF_ORIENTATION, 1) in TRANSPOSING_ORIENTATIONS
            image.draft(PIL_MODES[color], tuple(size[::-1] if turned else size))  # JPEG: decode near the target size
            image = _eight_bit(ImageOps.exif_transpose(image), notes).convert(PIL_MODES[color])
            if image.size != tuple(size):
                image = image.resize(tuple(size), Image.Resampling.BILINEAR)
            pixels = np.asarray(image, dtype=np.float32) / 255.0
    except FileNotFoundError as error:
        raise ImageReadError(f"image file {path} does not exist; fix or remove the sample") from error
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError) as error:
        raise ImageReadError(
            f"cannot decode image file {path} ({error}); fix or remove the sample"
        ) from error
    return pixels.reshape(size[1], size[0], -1)


def _eight_bit(image, notes=None):
    """16-bit and float images as 8-bit, scaled by their range (PIL would clip); a float
    image's NaN and infinite pixels take its lowest finite value (``notes`` hears of it)."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or values.max() > 255 else 255.0
        return Image.fromarray(np.clip(values / top * 255, 0, 255).round().astype(np.uint8))
    if image.mode == "F":
        values = np.asarray(image, dtype=np.float64)
        finite = np.isfinite(values)
        if not finite.all():
            values = np.where(finite, values, values[finite].min() if finite.any() else 0.0)
            if notes is not None:
                notes.append(
                    f"{np.count_nonzero(~finite):,} of {values.size:,} pixels are NaN or infinite; "
                    "they were read as the image's lowest value"
                )
        top = 1.0 if values.max() <= 1.0 else values.max()
        return Image.fromarray(np.clip(values / top * 255, 0, 255).round().astype(np.uint8))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image


def load_images(paths, size=(32, 32), color="rgb", workers=4, progress=None, skip_failures=False, notes=None):
    """Decode every path into one ``(n, height, width, channels)`` float32 array.

    Decoding runs in ``workers`` threads (PIL releases the GIL while decoding).
    ``progress(done, total)`` is called as images finish, and at least every
    ``POLL_SECONDS`` while reads are slow (a cancel raised there stops the batch at once).
    With ``skip_failures`` an unreadable image does not stop the batch: returns ``(batch of
    the readable images, {index: reason} of the others)``; without it, the first failure
    raises. An image still reading after ``DECODE_SECONDS`` is such a failure; its thread
    is left to its read (Python cannot stop it), and once every worker is stuck so the
    batch raises. ``notes`` (a dict) receives ``{index: what was repaired}`` (``load_image``).
    """
    paths = list(paths)
    channels = 3 if color == "rgb" else 1
    batch = np.empty((len(paths), size[1], size[0], channels), dtype=np.float32)
    failures, now_reading, abandoned = {}, {}, set()

    def fail(index, error):
        if not skip_failures:
            raise ImageReadError(f"{error}, or pass skip_failures=True to skip such samples") from error
        failures[index] = str(error)

    def decode(indices):  # a run of images per task: one wait per run, not per image
        for index in indices:
            if indices in abandoned:
                return
            now_reading[indices] = (index, time.monotonic())
            try:
                repaired = []
                batch[index] = load_image(paths[index], size, color, repaired)
                if repaired and notes is not None:
                    notes[index] = repaired[0]
            except ImageReadError as error:
                fail(index, error)

    workers = max(1, workers)
    queue = [range(start, min(start + IMAGES_PER_TASK, len(paths))) for start in range(0, len(paths), IMAGES_PER_TASK)]
    queue.reverse()
    pool = ThreadPoolExecutor(max_workers=workers)
    reading, done, reported, stuck = {}, 0, (0, time.monotonic()), 0
    try:
        while queue or reading:
            while queue and len(reading) < 2 * workers:
                indices = queue.pop()
                reading[pool.submit(decode, indices)] = indices
            finished, _ = wait(reading, timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
            for future in finished:
                done += len(reading.pop(future))
                future.result()
            now = time.monotonic()
            for future, indices in list(reading.items()):
                index, since = now_reading.get(indices, (None, now))
                if now - since > DECODE_SECONDS:  # the read never ended: count it failed, go on without it
                    abandoned.add(indices)
                    del reading[future]
                    done, stuck = done + index + 1 - indices.start, stuck + 1
                    fail(index, ImageReadError(f"image file {paths[index]} was still reading after {DECODE_SECONDS:g} s "
                                               "(a storage that does not answer?); fix or remove the sample"))  # fmt: skip
                    if stuck == workers:
                        raise ImageReadError(f"every reading thread waits on an image file that did not finish in "
                                             f"{DECODE_SECONDS:g} s (the last: {paths[index]}): the storage they are on "
                                             "does not answer")  # fmt: skip
                    if index + 1 < indices.stop:
                        queue.append(range(index + 1, indices.stop))
            due = done - reported[0] >= 256 or not (queue or reading) or now - reported[1] >= POLL_SECONDS
            if progress is not None and due and paths:
                progress(done, len(paths))
                reported = (done, now)
    finally:  # a failure, or a progress callback that stops the work, drops what is queued; never waits on a stuck read
        abandoned.update(reading.values())
        pool.shutdown(wait=False, cancel_futures=True)
    if not skip_failures:
        return batch
    readable = np.setdiff1d(np.arange(len(paths)), list(failures))
    return batch[readable], failures


def normalize_images(images, normalization="contrast"):
    """Remove per-image brightness (``"mean"``) or brightness and contrast (``"contrast"``:
    zero mean, unit standard deviation per image), so that a re-exposed copy of an image
    lands next to it. Constant images stay all zero. Works on the whole batch at once."""
    check_choice("normalization", normalization, NORMALIZATIONS)
    images = np.asarray(images, dtype=np.float32)
    if normalization == "none":
        return images
    axes = tuple(range(1, images.ndim))
    centred = images - images.mean(axis=axes, keepdims=True)
    if normalization == "mean":
        return centred
    spread = centred.std(axis=axes, keepdims=True)
    return np.divide(centred, spread, out=np.zeros_like(centred), where=spread > 1e-6)


def load_images_to_store(paths, folder, size=(32, 32), color="rgb", workers=4, progress=None, skip_failures=False,
                         executor=None, notes=None):  # fmt: skip
    """``load_images`` chunk by chunk into a ``streaming.ImageStore`` under ``folder``:
    the same images (and, with ``skip_failures``, the same ``{index: reason}``; the same
    ``notes``), with one chunk in memory at a time. With ``executor``
    (``parallel.RayExecutor``) the chunks are decoded as Ray tasks (progress then follows
    whole chunks)."""
    from . import streaming
    from .parallel import run_map

    paths = list(paths)
    store = streaming.ImageStore(len(paths), (size[1], size[0], 3 if color == "rgb" else 1), folder)
    step = streaming.CHUNK_ROWS
    starts = range(0, len(paths), step)
    if executor is None:
        decoded_chunks = (
            _decode_chunk(paths[start : start + step], size, color, workers, skip_failures,
                          None if progress is None else (lambda done, _, start=start: progress(start + done, len(paths))))
            for start in starts
        )  # fmt: skip
    else:
        tasks = [(paths[start : start + step], size, color, workers, skip_failures) for start in starts]
        decoded_chunks = run_map(executor, _decode_task, tasks)
    written, failures = 0, {}
    for start, (decoded, chunk_failures, chunk_notes) in zip(starts, decoded_chunks):
        failures.update({start + index: reason for index, reason in chunk_failures.items()})
        if notes is not None:
            notes.update({start + index: note for index, note in chunk_notes.items()})
        store.write(written, decoded)
        written += len(decoded)
        if executor is not None and progress is not None:
            progress(min(start + step, len(paths)), len(paths))
    store.keep_first(written)
    return (store, failures) if skip_failures else store


def _decode_chunk(paths, size, color, workers, skip_failures, progress=None):
    """One chunk decoded: ``(uint8 images, {index: reason}, {index: note})`` (8-bit: a
    quarter of the bytes to move, and exactly what the float32 batch holds)."""
    notes = {}
    decoded = load_images(paths, size, color, workers, progress, skip_failures, notes)
    images, failures = decoded if skip_failures else (decoded, {})
    return np.rint(images * 255.0).astype(np.uint8), failures, notes


def _decode_task(task):
    return _decode_chunk(*task)
