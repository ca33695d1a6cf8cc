"""The embedded demo dataset: real images that ship inside installed packages (scikit-learn's
digits, scikit-image's photographs and ``lfw_subset``), with planted, recorded
near-duplicates, different-label look-alikes and outliers, so every answer is known.

Each sample carries ``ground_truth`` (a Classification), ``source``, a split tag ("train"
or "test"), and the planted truth: ``planted`` ("near_duplicate", "lookalike", "outlier",
"leak", "far" or None), ``planted_group`` (shared by an original and its planted copies)
and ``planted_transform`` ("original", "jpeg", ...). The test split holds 10% of the
unplanted digits, 6 leaks (re-saved copies of training images) and 3 far-away images.
"""

import os

import numpy as np
from PIL import Image

PHOTOMETRIC_TRANSFORMS = ("exact", "jpeg", "brightness", "noise", "colour")
GEOMETRIC_TRANSFORMS = ("shift", "crop")
"""Shifts and crops are planted only on large photographs, where they move content by less
than a pixel at the analysis size (32x32); on a 32x32 digit a one-pixel shift is no longer
a near-duplicate in pixel or wavelet space."""
PHOTOS = (
    "astronaut", "brick", "camera", "cat", "cell", "checkerboard", "chelsea", "clock",
    "coffee", "coins", "colorwheel", "grass", "gravel", "hubble_deep_field",
    "immunohistochemistry", "microaneurysms", "moon", "page", "retina", "rocket", "text",
)  # fmt: skip
"""scikit-image photographs bundled in the wheel (``cat`` and ``chelsea`` are one image:
a natural exact duplicate the analysis should group)."""


def planted_transform(pixels, transform, rng):
    """Apply one near-duplicate transform to a uint8 image (H, W) or (H, W, 3)."""
    height, width = pixels.shape[:2]
    values = pixels.astype(np.float64)
    if transform in ("exact", "jpeg"):  # jpeg: the file is written as JPEG
        return pixels.copy()
    if transform == "brightness":
        values = values + 12
    elif transform == "noise":
        values = values + rng.normal(0, 4, pixels.shape)
    elif transform == "shift":
        step = max(1, round(width / 100))
        values = np.concatenate([values[:, :1].repeat(step, axis=1), values[:, :-step]], axis=1)
    elif transform == "crop":
        margin = max(1, round(0.005 * min(height, width)))
        cropped = Image.fromarray(pixels[margin:-margin, margin:-margin])
        return np.asarray(cropped.resize((width, height), Image.Resampling.BILINEAR))
    elif transform == "colour":
        if values.ndim == 3:
            values = values * np.array([1.06, 1.0, 0.94])
        else:
            values = values * 1.06
    else:
        raise ValueError(f"unknown transform {transform!r}")
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def demo_images(digits_per_class=None, seed=0):
    """The demo's images as records ``dict(name, pixels, label, source, planted, ...)``.

    ``digits_per_class`` limits the scikit-learn digits (all 1,797 when None), for small
    test datasets with the same planted structure.
    """
    from skimage import data as skdata
    from sklearn.datasets import load_digits

    rng = np.random.default_rng(seed)
    originals = []

    digits = load_digits()
    for label in range(10):
        indices = np.flatnonzero(digits.target == label)
        if digits_per_class is not None:
            indices = indices[:digits_per_class]
        for index in indices:
            small = (digits.images[index] * (255 / 16)).astype(np.uint8)
            pixels = np.asarray(Image.fromarray(small).resize((32, 32), Image.Resampling.BILINEAR))
            originals.append(_record(f"digit_{index:04d}", pixels, str(label), "digits"))

    faces = skdata.lfw_subset()  # first 100 faces, then 100 other crops
    for index, face in enumerate(faces):
        label = "face" if index < 100 else "not_face"
        pixels = (face * 255).round().astype(np.uint8)
        originals.append(_record(f"lfw_{index:03d}", pixels, label, "lfw_subset"))

    for name in PHOTOS:
        pixels = np.asarray(getattr(skdata, name)())
        originals.append(_record(f"photo_{name}", pixels, "photo", "skimage"))
    left, right, _ = skdata.stereo_motorcycle()
    originals.append(_record("photo_motorcycle_left", left, "photo", "skimage"))
    originals.append(_record("photo_motorcycle_right", right, "photo", "skimage"))

    records = list(originals)
    by_source = {
        source: [r for r in originals if r["source"] == source]
        for source in ("digits", "lfw_subset", "skimage")
    }
    picks = {
        "digits": rng.choice(len(by_source["digits"]), 20, replace=False),
        "lfw_subset": rng.choice(len(by_source["lfw_subset"]), 10, replace=False),
        "skimage": rng.choice(len(by_source["skimage"]), 8, replace=False),
    }
    group = 0
    transform_cycle = 0
    all_transforms = PHOTOMETRIC_TRANSFORMS + GEOMETRIC_TRANSFORMS
    for source, chosen in picks.items():
        near_duplicates, lookalikes = chosen[: -2 if source != "skimage" else None], []
        if source != "skimage":
            lookalikes = chosen[-2:]
        for index in near_duplicates:
            original = by_source[source][index]
            _mark(original, "near_duplicate", group)
            for _ in range(1 + int(rng.integers(0, 3))):
                transforms = all_transforms if source == "skimage" else PHOTOMETRIC_TRANSFORMS
                transform = transforms[transform_cycle % len(transforms)]
                transform_cycle += 1
                pixels = planted_transform(original["pixels"], transform, rng)
                copy = _record(
                    f"{original['name']}__{transform}", pixels, original["label"], source
                )
                copy["jpeg"] = transform == "jpeg"
                records.append(_mark(copy, "near_duplicate", group, transform))
            group += 1
        for index in lookalikes:
            original = by_source[source][index]
            _mark(original, "lookalike", group)
            other = _other_label(original["label"])
            pixels = planted_transform(original["pixels"], "noise", rng)
            copy = _record(f"{original['name']}__relabelled_{other}", pixels, other, source)
            records.append(_mark(copy, "lookalike", group, "relabelled"))
            group += 1

    for name, pixels, label in _outliers(rng):
        records.append(_mark(_record(name, pixels, label, "planted"), "outlier", None, "outlier"))

    # A test split: 10% of the unplanted digits, planted leaks (re-saved copies of training
    # images) and planted far-away images unlike anything in training.
    unplanted = [r for r in originals if r["planted"] is None]
    digits_pool = [r for r in unplanted if r["source"] == "digits"]
    for index in rng.choice(len(digits_pool), max(1, len(digits_pool) // 10), replace=False):
        digits_pool[index]["split"] = "test"
    leak_sources = [r for r in unplanted if r["split"] == "train"]
    for number, index in enumerate(rng.choice(len(leak_sources), 6, replace=False)):
        original = leak_sources[index]
        transform = ("exact", "jpeg")[number % 2]
        copy = _record(f"{original['name']}__leak_{transform}", original["pixels"].copy(),
                       original["label"], original["source"])  # fmt: skip
        copy["jpeg"] = transform == "jpeg"
        copy["split"] = "test"
        _mark(original, "leak", group)
        records.append(_mark(copy, "leak", group, transform))
        group += 1
    for name, pixels, label in _far_images(rng):
        far = _mark(_record(name, pixels, label, "planted"), "far", None, "far")
        far["split"] = "test"
        records.append(far)
    return records


def write_demo_images(directory, records):
    """Write each record's pixels to ``directory`` (PNG, or JPEG for the ``jpeg`` copies)
    and set its ``filepath``."""
    os.makedirs(directory, exist_ok=True)
    for record in records:
        extension = "jpg" if record.get("jpeg") else "png"
        path = os.path.join(directory, f"{record['name']}.{extension}")
        image = Image.fromarray(record["pixels"])
        if extension == "jpg":
            image.convert("RGB").save(path, format="JPEG", quality=70)
        else:
            image.save(path, format="PNG")
        record["filepath"] = path
    return records


def load_demo_dataset(name="redundancy-demo", directory=None, digits_per_class=None,
                      persistent=False, overwrite=True):  # fmt: skip
    """Build (or rebuild) the demo dataset in FiftyOne; images go to ``directory``."""
    import fiftyone as fo

    if directory is None:
        directory = os.path.join(fo.config.default_dataset_dir, name)
    if fo.dataset_exists(name):
        if not overwrite:
            return fo.load_dataset(name)
        fo.delete_dataset(name)
    records = write_demo_images(directory, demo_images(digits_per_class))
    dataset = fo.Dataset(name, persistent=persistent)
    dataset.add_samples(
        [
            fo.Sample(
                filepath=record["filepath"],
                ground_truth=fo.Classification(label=record["label"]),
                source=record["source"],
                planted=record["planted"],
                planted_group=record["planted_group"],
                planted_transform=record["planted_transform"],
                tags=[record["split"]],
            )
            for record in records
        ],
        progress=False,
    )
    dataset.info["planted"] = (
        "planted_group groups an original with its planted copies; planted is "
        "'near_duplicate' (same label: one kept, the rest redundant), 'lookalike' "
        "(a copy with another label: influential), 'outlier', 'leak' (a test-split copy "
        "of a training image) or 'far' (a test image unlike anything in training); "
        "the splits are the tags 'train' and 'test'"
    )
    dataset.save()
    return dataset


def _record(name, pixels, label, source):
    return dict(name=name, pixels=pixels, label=label, source=source, planted=None,
                planted_group=None, planted_transform=None, split="train")  # fmt: skip


def _mark(record, kind, group, transform="original"):
    record.update(planted=kind, planted_group=group, planted_transform=transform)
    return record


def _other_label(label):
    if label.isdigit():
        return str((int(label) + 5) % 10)
    return {"face": "not_face", "not_face": "face"}.get(label, "face")


def _outliers(rng):
    noise = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    flat = np.full((32, 32), 128, dtype=np.uint8)
    stripes = np.zeros((32, 32, 3), dtype=np.uint8)
    stripes[:, ::4] = (255, 0, 0)
    stripes[:, 1::4] = (0, 255, 0)
    gradient = np.tile(np.linspace(0, 255, 32, dtype=np.uint8), (32, 1))
    return [
        ("outlier_noise", noise, "3"),
        ("outlier_flat_gray", flat, "7"),
        ("outlier_stripes", stripes, "face"),
        ("outlier_gradient", gradient.T.copy(), "photo"),
    ]


def score_planted(dataset, key):
    """How a run did on the planted truth: near-duplicate groups found whole (all members
    in one group, pointing at one kept image, none influential), look-alike pairs marked
    influential, and the names of the misses."""
    names = [os.path.basename(path) for path in dataset.values("filepath")]
    kinds, planted_groups = dataset.values("planted"), dataset.values("planted_group")
    ids = dataset.values("id")
    status, group = dataset.values(f"{key}_status"), dataset.values(f"{key}_group")
    representative = dataset.values(f"{key}_representative")
    members = {}
    for index, planted_group in enumerate(planted_groups):
        if planted_group is not None:
            members.setdefault(planted_group, []).append(index)
    score = {"near_duplicate": [0, 0], "lookalike": [0, 0], "leak": [0, 0], "misses": []}
    for indices in members.values():
        kind = kinds[indices[0]]
        same_group = len({group[i] for i in indices}) == 1 and group[indices[0]] is not None and group[indices[0]] >= 0
        if kind in ("near_duplicate", "leak"):
            kept = {representative[i] or ids[i] for i in indices}
            found = same_group and len(kept) == 1 and all(
                status[i] in ("representative", "redundant") for i in indices
            )
        else:
            found = same_group and all(status[i] == "influential" for i in indices)
        score[kind][1] += 1
        score[kind][0] += int(found)
        if not found:
            score["misses"].append([names[i] for i in indices])
    return score


def _far_images(rng):
    color_noise = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    fine_checker = ((np.indices((32, 32)).sum(axis=0) % 2) * 255).astype(np.uint8)
    speckle = (rng.random((32, 32)) < 0.1).astype(np.uint8) * 255
    return [
        ("far_colour_noise", color_noise, "photo"),
        ("far_fine_checker", fine_checker, "1"),
        ("far_speckle", speckle, "face"),
    ]
