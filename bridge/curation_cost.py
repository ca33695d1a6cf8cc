"""``curation_cost``: what training on a curated view costs in test accuracy, measured on
the user's own labelled data by training the same small network (``core.training``) on
the full and on the curated training part, seed for seed, nothing written."""

import os
import platform
import time
from dataclasses import dataclass, field

import numpy as np

from ..core.devices import resolve_device
from ..core.extras import require_features
from ..core.parameters import check_number
from ..core.training import (
    ScoredRow,
    as_tensors,
    copies_across,
    held_out_split,
    score_table,
    train_and_score,
    training_budget,
)
from .curation.views import EXCLUDED_STATUSES, UNION, _run_keys, curated_part
from .documented import documented
from .features import IMAGENET_MEAN, IMAGENET_STD
from .progress import StageProgress
from .runs import holding
from .samples import read_images, read_labels

MIN_PER_CLASS = 5
"""The fewest samples of a class the estimate takes: the test part needs one, the
training part the rest."""
FULL, CURATED = "full", "curated"


@dataclass
class CurationCost:
    """The full and curated rows (``core.training.ScoredRow``: accuracy per seed, mean,
    sd, size, seconds), the test part (its size, and how many held-out samples were left
    out as copies of training samples), and where it ran."""

    rows: list
    n_test: int
    n_test_removed: int
    device: str
    budget: dict
    keys: list
    timings: dict = field(default_factory=dict)

    def table(self):
        """The rows as a markdown table, naming the device."""
        return score_table(self.rows, self.device)

    def summary(self):
        full, curated = self.rows
        change = 100 * (curated.mean - full.mean)
        return (
            f"Curated by runs {', '.join(self.keys)}: {curated.n_train:,} of {full.n_train:,} training images "
            f"({100 * (1 - curated.n_train / full.n_train):.1f}% fewer); test accuracy {100 * curated.mean:.2f}% ± "
            f"{100 * curated.sd:.2f} against {100 * full.mean:.2f}% ± {100 * full.sd:.2f} ({change:+.2f} points) "
            f"on {self.n_test:,} held-out images ({self.n_test_removed:,} left out as copies of training images), "
            f"{len(full.scores)} seeds on {self.device}."
        )

    def as_dict(self):
        return {"rows": [row.as_dict() for row in self.rows], "n_test": self.n_test, "n_test_removed": self.n_test_removed,
                "device": self.device, "budget": self.budget, "keys": self.keys, "timings": self.timings}  # fmt: skip


def device_name(device):
    """The machine a number came from, in words: the GPU's name, or the CPU's cores."""
    import torch

    if device == "cuda":
        return torch.cuda.get_device_name()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"CPU ({platform.processor() or platform.machine()}, {cores} cores, {torch.get_num_threads()} torch threads)"


def labelled_classes(samples, label_field, minimum=MIN_PER_CLASS):
    """``(labels, class names)`` of ``samples``, refusing what a trained estimate cannot
    use: no label field, a sample without a label, a class with fewer than ``minimum``
    samples, or a single class."""
    if label_field is None:
        raise ValueError(
            "the curation cost trains a classifier, so it needs labels: pass label_field, a "
            "Classification field (or a string/int field) holding every sample's class"
        )
    labels = read_labels(samples, label_field)
    missing = [sample_id for sample_id, label in zip(samples.values("id"), labels) if label is None]
    if missing:
        raise ValueError(
            f"{len(missing)} samples have no {label_field!r} label (e.g. sample {missing[0]}); label them, "
            f"or estimate on the labelled ones: samples.exists({label_field!r})"
        )
    counts = {label: labels.count(label) for label in set(labels)}
    few = sorted((label for label, count in counts.items() if count < minimum), key=str)
    if few:
        raise ValueError(
            f"class {few[0]!r} of {label_field!r} has {counts[few[0]]} samples ({len(few)} classes have fewer than "
            f"{minimum}): each class needs at least {minimum} to hold some out as a test set; leave such classes "
            "out of the view or label more"
        )
    if len(counts) < 2:
        raise ValueError(f"{label_field!r} holds one class ({next(iter(counts))!r}): a classifier needs two or more")
    return labels, sorted(counts, key=str)


def clean_split(samples, keys, labels, test_fraction, split_seed):
    """``(training rows, test rows, number of test rows left out)``: a seeded per-class
    held-out part of ``samples``, without the test samples that share a group of any
    run ``keys`` with a training sample (near-identical copies would flatter the score)."""
    train, test = held_out_split(labels, test_fraction, split_seed)
    leaked = copies_across([samples.values(f"{key}_group") for key in keys], train, test)
    return train, np.setdiff1d(test, leaked), len(leaked)


def curated_rows(samples, keys, train, exclude=EXCLUDED_STATUSES, combine=UNION):
    """The rows of ``train`` that the curation of runs ``keys`` keeps, families chosen
    within the training part (``curated_part``)."""
    sample_ids = samples.values("id")
    part = samples.select([sample_ids[row] for row in train])
    kept = set(curated_part(part, keys, exclude, combine).values("id"))
    return np.asarray([row for row in train if sample_ids[row] in kept], dtype=np.int64)


def read_training_images(samples, labels, classes, image_size, progress=None, check=None):
    """The images of ``samples`` at ``image_size`` and their class indices, as the tensors
    ``core.training`` takes (``progress`` is FiftyOne's) (normalised with ImageNet's statistics, as the feature-map
    analysis normalises by default, so a trained model's features match)."""
    _, images, _, _ = read_images(samples, (image_size, image_size), "rgb", progress=progress, check=check)
    index = {label: number for number, label in enumerate(classes)}
    return as_tensors(images, [index[label] for label in labels], IMAGENET_MEAN, IMAGENET_STD)


def training_progress(stages, row):
    """A ``(seed, done, total)`` callback for ``train_and_score`` that shows each seed's
    training of ``row`` as a stage of ``stages``."""

    def heard(seed, done, total):
        words = f"training on the {row} set, seed {seed}"
        if stages.stage != words:
            stages.begin(words)
        stages.counted(done, total, "steps")

    return heard


@documented
def curation_cost(samples, keys, label_field, budget="cpu", seeds=(0, 1, 2), test_fraction=0.2, split_seed=0,
                  image_size=None, exclude=EXCLUDED_STATUSES, combine=UNION, device=None, progress=None):  # fmt: skip
    """What the curated view of runs ``keys`` costs in test accuracy on ``samples``: a
    small fast CIFAR network (``core.training``, after airbench) is trained from scratch
    on the full training part and on its curated part with the same seeds, and scored on
    a held-out part of ``samples``. The held-out part is drawn per class from
    ``split_seed``; held-out samples in a group (of any run ``keys``) that has training
    members are left out of it, so the test holds no copy of a training image. Nothing
    is written to the dataset; the runs are held while it works (so a cancel from
    :func:`cancel_run` or the App stops it at the next step). Needs the ``[features]``
    extra (torch). Refused without labels or with a class of fewer than
    ``MIN_PER_CLASS`` samples.

    Args:
        samples: a FiftyOne dataset or view of labelled images that the runs analysed
        label_field: the field holding each sample's class
        budget: "cpu" (a narrow net, 16 px, 8 epochs: minutes on a laptop), "gpu" (the
            full-size net, 32 px, 10 epochs), a dict of ``TrainingBudget``'s fields, or
            a ``TrainingBudget``
        seeds: the seeds of the trainings of each row (the same for both rows)
        test_fraction: the share of each class held out as the test part
        split_seed: the seed that draws the held-out part
        image_size: the side images are resized to; None: the budget's
        device: where the network trains: None (a CUDA GPU when there is one), "cpu"
            or "cuda"

    Returns:
        a :class:`CurationCost`: ``rows`` (full, curated: accuracy per seed, mean, sd,
        training size, seconds per training), ``table()``, ``summary()``
    """
    require_features("the curation cost")
    budget = training_budget(budget)
    if image_size is not None:
        budget = type(budget)(**{**vars(budget), "image_size": image_size})
    seeds = [check_number("seed", seed, integer=True, at_least=0) for seed in ([seeds] if np.isscalar(seeds) else seeds)]
    if not seeds:
        raise ValueError("give at least one seed")
    dataset = samples._dataset
    keys = _run_keys(dataset, keys)
    labels, classes = labelled_classes(samples, label_field)
    device = resolve_device(device)
    timings = {}
    with holding(dataset, keys) as writers:

        def check():
            for writer in writers:
                writer.raise_if_cancelled()

        stages = StageProgress(progress, check)
        started = time.perf_counter()
        train, test, removed = clean_split(samples, keys, labels, test_fraction, split_seed)
        curated = curated_rows(samples, keys, train, exclude, combine)
        images, targets = read_training_images(samples, labels, classes, budget.image_size, progress, check)
        timings["preparation"] = time.perf_counter() - started
        rows = []
        for name, rows_trained in ((FULL, train), (CURATED, curated)):
            started = time.perf_counter()
            scores = train_and_score(images, targets, rows_trained, test, len(classes), budget, seeds, device,
                                     training_progress(stages, name))  # fmt: skip
            timings[f"training_{name}"] = time.perf_counter() - started
            rows.append(ScoredRow(name, scores))
    return CurationCost(rows, len(test), int(removed), device_name(device), dict(vars(budget)), keys, timings)
