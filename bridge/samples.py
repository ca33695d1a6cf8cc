"""Reading what the analyses need (ids, image files, labels) from any FiftyOne view."""

import time

import fiftyone as fo
import fiftyone.core.utils as fou

from ..core.images import load_images

LABEL_VALUE_FIELDS = (fo.StringField, fo.IntField, fo.BooleanField)


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
        return samples.values(f"{label_field}.label")
    if isinstance(field, LABEL_VALUE_FIELDS):
        return samples.values(label_field)
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
    """``(width, height)`` from an int (square) or a pair."""
    return (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)


def decode_images(samples, size, color, workers=4, progress=None, skip_failures=False):
    """All images of ``samples`` resized to ``size`` as one float32 batch, in view order;
    with ``skip_failures``, ``(batch of the readable ones, {index: reason})``."""
    if color not in ("rgb", "gray"):
        raise ValueError(f"color must be 'rgb' or 'gray', got {color!r}")
    paths = samples.values("filepath")
    with fou.ProgressBar(total=len(paths), progress=progress) as bar:
        return load_images(
            paths, size, color, workers,
            progress=lambda done, _: bar.set_iteration(done), skip_failures=skip_failures,
        )  # fmt: skip


def read_view(samples, label_field, size, color, workers=4, progress=None, skip_failures=False):
    """What an image analysis reads from a view, after checking it can be analysed:
    ``(sample ids, labels or None, image batch, seconds taken, skipped samples)``.
    Skipped samples (only with ``skip_failures``) are ``{"id", "filepath", "reason"}``
    records; the ids, labels and batch then hold the readable samples only."""
    require_images(samples)
    started = time.perf_counter()
    sample_ids = samples.values("id")
    labels = read_labels(samples, label_field)
    decoded = decode_images(samples, size, color, workers, progress, skip_failures)
    skipped = []
    if skip_failures:
        images, failures = decoded
        paths = samples.values("filepath")
        skipped = [{"id": sample_ids[i], "filepath": paths[i], "reason": reason} for i, reason in sorted(failures.items())]
        keep = [i for i in range(len(sample_ids)) if i not in failures]
        sample_ids = [sample_ids[i] for i in keep]
        labels = None if labels is None else [labels[i] for i in keep]
        if len(sample_ids) < 2:
            raise ValueError(f"only {len(sample_ids)} of {len(paths)} images could be read; see the reasons: {skipped[:3]}")
    else:
        images = decoded
    return sample_ids, labels, images, time.perf_counter() - started, skipped
