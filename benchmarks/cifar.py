"""The CIFAR-10 training set of ../shared/data as a persistent FiftyOne dataset, for the
benchmarks: extracted once to the temp folder, imported once."""

import os
import tarfile
import tempfile

os.environ.setdefault("FIFTYONE_DO_NOT_TRACK", "true")
os.environ.setdefault("FIFTYONE_DATABASE_VALIDATION", "false")

HERE = os.path.dirname(os.path.abspath(__file__))
TARBALL = os.path.join(HERE, "..", "..", "shared", "data", "cifar10-train-jpg.tar.gz")
CACHE = os.path.join(tempfile.gettempdir(), "fiftyone-redundancy-cifar10")
DATASET = "cifar10-train-benchmark"


def ensure_extracted():
    """The JPEGs under ``CACHE/train/<class>/``, extracted on first use."""
    if not os.path.isdir(os.path.join(CACHE, "train")):
        os.makedirs(CACHE, exist_ok=True)
        with tarfile.open(TARBALL) as archive:
            archive.extractall(CACHE)


def load_cifar(limit=None):
    """All 50,000 images (or a seeded random ``limit`` of them), label field ``ground_truth``."""
    import fiftyone as fo

    name = DATASET if limit is None else f"{DATASET}-{limit}"
    if fo.dataset_exists(name):
        return fo.load_dataset(name)
    ensure_extracted()
    dataset = fo.Dataset.from_dir(
        dataset_dir=os.path.join(CACHE, "train"),
        dataset_type=fo.types.ImageClassificationDirectoryTree,
        name=name,
        max_samples=limit,
        shuffle=limit is not None,
        seed=0,
        progress=False,
    )
    dataset.persistent = True
    return dataset
