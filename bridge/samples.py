"""Reading what the analyses need (ids, image files, labels) from any FiftyOne view."""

import time
from collections import Counter

import fiftyone as fo

from ..core import streaming
from ..core.images import COLORS, load_images, load_images_to_store
from ..core.parameters import check_choice, check_number
from .progress import DECODING, stage_progress

LABEL_VALUE_FIELDS = (fo.StringField, fo.IntField, fo.BooleanField)
MIN_IMAGE_SIDE, MAX_IMAGE_SIDE = 4, 1024
BYTES_PER_PIXEL_VALUE = 4 * 6
"""The float32 batch and the float64 copies the analyses make of it (normalized images,
coefficients, their selection)."""


def is_classification(field):
    """Whether a schema field holds one ``fo.Classification`` per sample."""
    return isinstance(field, fo.EmbeddedDocumentField) and issubclass(
        field.document_type, fo.Classification
    )


def classification_fields(samples):
    """Names of the fields of ``samples`` that can serve as ``label_field``."""
    names = []
    for name, field in samples.get_field_schema().items():
        if is_classification(field):
            names.append(name)
        elif isinstance(field, LABEL_VALUE_FIELDS) and not name.startswith("_"):
            if name not in ("filepath", "id"):
                names.append(name)
    return names


def read_labels(samples, label_field):
    """Per-sample label values of ``label_field`` (a ``Classification`` field or a plain
    string/int/bool field), None where a sample has no label."""
    path = label_path(samples, label_field)
    return None if path is None else samples.values(path)


def label_path(samples, label_field):
    """The path whose values are ``label_field``'s labels (``read_labels``), to read them
    with other fields in one pass; None for no ``label_field``."""
    if label_field is None:
        return None
    field = samples.get_field(label_field)
    if field is None:
        raise ValueError(
            f"label_field {label_field!r} does not exist on dataset "
            f"{samples._dataset.name!r}; choose one of {classification_fields(samples)} "
            "or pass label_field=None to treat every sample as one label"
        )
    if is_classification(field):
        return f"{label_field}.label"
    if isinstance(field, LABEL_VALUE_FIELDS):
        return label_field
    raise ValueError(
        f"label_field {label_field!r} is a {type(field).__name__}; it must hold one "
        f"fo.Classification or a string/int per sample, such as {classification_fields(samples)}"
    )


def require_images(samples, minimum=2):
    """Fail early, with the fix, when a view cannot be analysed."""
    count = len(samples)
    if count < minimum:
        raise ValueError(
            f"the view has {count} sample(s); an analysis needs at least {minimum}. "
            "Choose a larger view or the whole dataset"
        )
    if samples.media_type == fo.core.media.GROUP:
        slices = sorted(samples.group_media_types)
        raise ValueError(
            f"the view is a grouped dataset (slices {slices}); analyse one image slice, e.g. "
            f"dataset.select_group_slices({slices[0]!r})"
        )
    if samples.media_type != fo.core.media.IMAGE:
        raise ValueError(
            f"the view holds {samples.media_type} samples; these analyses need images"
        )
    if samples._is_generated:
        raise ValueError(
            "the view is a patches, frames or clips view: its samples live in a temporary "
            "dataset and each would be read as its whole image. Run on the source dataset "
            "(or a view of it), or export the crops as images first"
        )
    sample_ids = samples.values("id")
    if len(set(sample_ids)) != len(sample_ids):
        repeated = next(i for i in sample_ids if sample_ids.count(i) > 1)
        raise ValueError(
            f"the view holds sample {repeated} (and maybe others) more than once, e.g. "
            "from concat(); every sample would look redundant with itself. Analyse a view "
            "with each sample once"
        )


def image_size_tuple(image_size):
    """``(width, height)`` from an int (square) or a pair, each side a whole number of
    pixels from ``MIN_IMAGE_SIDE`` to ``MAX_IMAGE_SIDE``."""
    sides = list(image_size) if isinstance(image_size, (tuple, list)) else [image_size, image_size]
    if len(sides) != 2:
        raise ValueError(f"image_size must be one side or a (width, height) pair, got {image_size!r}")
    return tuple(
        check_number("image_size", side, integer=True, at_least=MIN_IMAGE_SIDE, at_most=MAX_IMAGE_SIDE)
        for side in sides
    )


def check_memory(count, size, color, bytes_per_value, ways_out):
    """Refuse, with the estimate and ``ways_out``, work on ``count`` images of ``size``
    in ``color`` that holds ``bytes_per_value`` per decoded value and would not fit in
    this machine's free memory, before a byte is allocated (not partway, out of memory)."""
    import psutil

    needed = count * size[0] * size[1] * (3 if color == "rgb" else 1) * bytes_per_value
    free = psutil.virtual_memory().available
    if needed > free:
        raise ValueError(
            f"{count:,} images at {size[0]}x{size[1]} ({color}) need about {needed / 2**30:.1f} GiB "
            f"for the analysis, and this machine has {free / 2**30:.1f} GiB free; {ways_out}"
        )


def check_decode_memory(count, size, color):
    """The decoded batch (or a streamed run's chunk) with the copies the analyses make."""
    check_memory(count, size, color, BYTES_PER_PIXEL_VALUE,
                 "use a smaller image_size (32 finds near-duplicates) or analyse a smaller view")  # fmt: skip


def decode_images(samples, size, color, workers=4, progress=None, skip_failures=False, check=None, folder=None,
                  executor=None, notes=None):  # fmt: skip
    """All images of ``samples`` resized to ``size`` as one float32 batch, in view order;
    with ``skip_failures``, ``(batch of the readable ones, {index: reason})``. ``check()``
    is called at every progress step (a cancelled run raises there). With ``folder`` the
    batch is a ``core.streaming.ImageStore`` there, decoded chunk by chunk (any size; as
    Ray tasks with ``executor``, a ``core.parallel.RayExecutor``). ``notes`` (a dict)
    receives ``{index: what was repaired}`` (``core.images.load_image``)."""
    check_choice("color", color, COLORS)
    paths = samples.values("filepath")
    report = stage_progress(progress, DECODING, check)
    if folder is not None:  # one chunk at a time in memory
        check_decode_memory(min(len(paths), streaming.CHUNK_ROWS), size, color)
        return load_images_to_store(paths, folder, size, color, workers, report, skip_failures, executor, notes)
    check_decode_memory(len(paths), size, color)
    return load_images(paths, size, color, workers, progress=report, skip_failures=skip_failures, notes=notes)


def read_images(samples, size, color, workers=4, progress=None, skip_failures=False, check=None, folder=None,
                executor=None):  # fmt: skip
    """The images of ``samples`` as one batch: ``(indices of the samples read, batch,
    skipped samples, repaired samples)``. Skipped samples (only with ``skip_failures``;
    without it the first unreadable image raises) and repaired ones (float images with
    NaN pixels) are ``{"id", "filepath", "reason"}`` records."""
    notes = {}
    decoded = decode_images(samples, size, color, workers, progress, skip_failures, check, folder, executor, notes)
    images, failures = decoded if skip_failures else (decoded, {})
    kept = [i for i in range(len(images) + len(failures)) if i not in failures]
    return kept, images, *sample_records(samples, failures, notes)


def sample_records(samples, *reasons):
    """Each ``{index: reason}`` of ``reasons`` (indices into ``samples``) as a list of
    ``{"id", "filepath", "reason"}`` records, as a run lists skipped or repaired samples."""
    sample_ids, paths = (samples.values("id"), samples.values("filepath")) if any(reasons) else ([], [])
    return [
        [{"id": sample_ids[i], "filepath": paths[i], "reason": reason} for i, reason in sorted(found.items())]
        for found in reasons
    ]


def readable_rows(sample_ids, labels, kept, skipped):
    """The ids and labels (or None) of the samples ``kept`` (indices), refused when fewer
    than two are left to compare (``skipped``: the records of the others, quoted)."""
    if len(kept) < 2:
        raise ValueError(f"only {len(kept)} of {len(sample_ids)} images could be read; see the reasons: {skipped[:3]}")
    return [sample_ids[i] for i in kept], None if labels is None else [labels[i] for i in kept]


def read_view(samples, label_field, size, color, workers=4, progress=None, skip_failures=False, check=None,
              folder=None, executor=None):  # fmt: skip
    """What an image analysis reads from a view, after checking it can be analysed:
    ``(sample ids, labels or None, image batch, seconds taken, skipped samples, repaired
    samples)``; with ``skip_failures`` the ids, labels and batch hold the readable samples
    only; with ``folder`` the batch is an on-disk ``ImageStore`` there (``decode_images``)."""
    require_images(samples)
    started = time.perf_counter()
    sample_ids = samples.values("id")
    labels = read_labels(samples, label_field)
    kept, images, skipped, repaired = read_images(samples, size, color, workers, progress, skip_failures, check, folder, executor)
    sample_ids, labels = readable_rows(sample_ids, labels, kept, skipped)
    return sample_ids, labels, images, time.perf_counter() - started, skipped, repaired


def read_embeddings(samples, embeddings_field, sample_ids):
    """One row per id of ``sample_ids`` from the vectors in ``embeddings_field`` (e.g.
    written by ``compute_embeddings``), checked: present on every sample, numeric, finite
    and of one length. None when ``embeddings_field`` is None."""
    import numpy as np

    if embeddings_field is None:
        return None
    if samples.get_field(embeddings_field) is None:
        raise ValueError(
            f"embeddings_field {embeddings_field!r} does not exist on dataset "
            f"{samples._dataset.name!r}; compute it first (e.g. view.compute_embeddings(model, "
            f"embeddings_field={embeddings_field!r})) or leave it out"
        )
    by_id = dict(zip(*samples.values(["id", embeddings_field])))
    rows, lengths = [], set()
    for sample_id in sample_ids:
        vector = by_id.get(sample_id)
        try:
            row = np.asarray(vector, dtype=np.float32).reshape(-1)
        except (TypeError, ValueError):
            row = None
        if vector is None or row is None or row.size == 0 or not np.all(np.isfinite(row)):
            raise ValueError(
                f"sample {sample_id} has no usable vector in {embeddings_field!r} ({vector!r:.60}); "
                "every analysed sample needs a finite numeric vector: recompute the field or "
                "exclude such samples from the view"
            )
        rows.append(row)
        lengths.add(row.size)
    if len(lengths) > 1:
        raise ValueError(
            f"{embeddings_field!r} holds vectors of lengths {sorted(lengths)}; they must all "
            "have one length (from one model)"
        )
    rows = np.stack(rows)
    spread = embedding_spread(rows)
    if spread < MIN_EMBEDDING_SPREAD:
        raise ValueError(
            f"the vectors in {embeddings_field!r} are all (nearly) the same direction (spread {spread:.2g}); "
            "they cannot tell the images apart and would make every pair look alike. Recompute the field "
            "with a model that tells these images apart, or leave embeddings_field out"
        )
    return rows


MIN_EMBEDDING_SPREAD = 0.05
"""An embeddings field whose unit vectors lie this close to their mean direction (root mean
square distance; 0.05 is a mean pairwise cosine of about 0.9975) is refused: a constant or
near-constant field (a failed model, one vector copied everywhere) would give every pair
its full cosine. Trained models' features spread 0.3 or more."""


def embedding_spread(rows):
    """Root mean square distance of the unit ``rows`` from their mean (0: one direction)."""
    import numpy as np

    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    units = np.divide(rows, norms, out=np.zeros_like(rows), where=norms > 0)
    return float(np.sqrt(((units - units.mean(axis=0)) ** 2).sum(axis=1).mean()))


def media_record(paths):
    """What a run stores of its image files, so that a re-cut can tell when they changed:
    each file's size and modification time (nanoseconds), -1 where the file cannot be
    seen from here (remote media), as base64 int64 bytes."""
    import base64
    import os

    import numpy as np

    signatures = np.full((len(paths), 2), -1, dtype="<i8")
    for row, path in enumerate(paths):
        try:
            status = os.stat(path)
        except (OSError, ValueError, TypeError):
            continue
        signatures[row] = (status.st_size, status.st_mtime_ns)
    return {"encoding": "base64", "signatures": base64.b64encode(signatures.tobytes()).decode("ascii")}


def changed_media(record, paths):
    """The paths among ``paths`` (in the order ``media_record`` was given them) whose file
    changed since ``record`` was made (size or modification time), or went missing; a
    None path (a sample deleted since) is not asked about."""
    import base64

    import numpy as np

    stored = np.frombuffer(base64.b64decode(record["signatures"]), dtype="<i8").reshape(-1, 2)
    now = np.frombuffer(base64.b64decode(media_record(paths)["signatures"]), dtype="<i8").reshape(-1, 2)
    asked = np.array([path is not None for path in paths], dtype=bool)
    changed = np.flatnonzero(asked & (stored[:, 0] >= 0) & np.any(stored != now, axis=1))
    return [paths[row] for row in changed]


def paths_of(samples, sample_ids):
    """The file paths of the samples ``sample_ids`` of ``samples``, in that order."""
    path_of = dict(zip(*samples.values(["id", "filepath"])))
    return [path_of.get(sample_id) for sample_id in sample_ids]


def distinct_names(paths):
    """Each path's shortest tail (its file name, then with its folders) that no other of
    ``paths`` shares: ``0318.jpg`` where that name is unique, ``cat/0318.jpg`` in a
    folder tree where every class has a ``0318.jpg``."""
    parts = [str(path).replace("\\", "/").split("/") for path in paths]
    depth = [1] * len(parts)
    while True:
        tails = ["/".join(part[-level:]) for part, level in zip(parts, depth)]
        counts = Counter(tails)
        clashing = [row for row, tail in enumerate(tails) if counts[tail] > 1 and depth[row] < len(parts[row])]
        if not clashing:
            return tails
        for row in clashing:
            depth[row] += 1

