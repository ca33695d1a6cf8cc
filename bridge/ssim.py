"""``compute_ssim_clusters`` (Algorithm 2) and ``compute_split_similarity`` (train vs test)
on FiftyOne views."""

import time

import fiftyone as fo
import numpy as np

from ..core.decisions import OUTLIER, REDUNDANT, REPRESENTATIVE, UNIQUE, Decisions
from ..core.devices import resolve_device
from ..core.parameters import check_number
from ..core.split_similarity import split_similarity
from ..core.ssim_analysis import SSIMParameters, analyze_ssim
from . import runs
from .samples import image_size_tuple, read_images, read_labels, read_view, require_images

METHOD = "ssim_spectral"
SPLIT_METHOD = "split_similarity"
SPLIT_FIELDS = {"best_match": fo.StringField, "best_similarity": fo.FloatField}


def compute_ssim_clusters(
    samples,
    label_field=None,
    key="ssim",
    image_size=32,
    color="rgb",
    mode="auto",
    grouping="threshold",
    threshold=0.9,
    n_clusters=None,
    rule="largest_gap",
    gamma=0.4,
    n_neighbors=10,
    n_eigenvalues=50,
    memory_budget_gb=2.0,
    random_state=0,
    device=None,
    num_workers=4,
    skip_failures=False,
    progress=None,
):
    """Group structurally similar images of ``samples`` by SSIM (Wang et al. 2004, as
    ``skimage.metrics.structural_similarity`` with an 11x11 Gaussian window).

    ``mode="dense"`` computes SSIM for every pair (refused past ``memory_budget_gb``);
    ``"sparse"`` for each image and its ``n_neighbors`` nearest wavelet neighbours, which
    scales to 50,000+ images; ``"auto"`` picks dense when it fits. ``grouping="threshold"``
    groups images whose SSIM with every other member is at least ``threshold``;
    ``"spectral"`` runs spectral clustering into ``n_clusters`` clusters, by default the
    number the Laplacian spectrum gives (``rule``: "largest_gap", or "paper": the number
    of eigen-gaps larger than ``gamma``). The spectrum is stored in the run for plotting.
    Then the decision rule: one label per group keeps the member most similar to the
    others (``representative``), the rest are ``redundant``; mixed labels: ``influential``.
    ``skip_failures`` leaves unreadable images out (listed in the run's ``skipped``).
    """
    size = image_size_tuple(image_size)
    parameters = SSIMParameters(
        mode=mode,
        grouping=grouping,
        threshold=threshold,
        n_clusters=n_clusters,
        rule=rule,
        gamma=gamma,
        n_neighbors=n_neighbors,
        n_eigenvalues=n_eigenvalues,
        memory_budget_gb=memory_budget_gb,
        random_state=random_state,
        device=device,
    )
    with runs.RunWriter(samples._dataset, key) as writer:
        runs.validate_key(samples, key, METHOD)
        sample_ids, labels, images, decode_seconds, skipped = read_view(
            samples, label_field, size, color, num_workers, progress, skip_failures
        )

        runs.checkpoint("decoded")
        analysis = analyze_ssim(images, labels, parameters)
        runs.checkpoint("analysed")
        details = {
            "timings": {"decode": decode_seconds, **analysis.timings},
            "skipped": skipped,
            "mode_used": analysis.mode,
            "n_clusters_used": int(analysis.n_clusters),
            "spectrum": [float(value) for value in analysis.spectrum],
            "device": resolve_device(device),
            "sample_ids": sample_ids,
            "points": analysis.points.round(5).tolist(),
        }
        config = {"label_field": label_field, "image_size": list(size), "color": color, **vars(parameters)}
        return runs.store_run(writer, samples, METHOD, config, sample_ids, analysis.decisions, details)


def compute_split_similarity(
    samples,
    train="train",
    test="test",
    split_field=None,
    label_field=None,
    within_class=False,
    key="split",
    threshold=0.9,
    n_least_similar=10,
    mode="auto",
    n_neighbors=10,
    image_size=32,
    color="rgb",
    device=None,
    num_workers=4,
    skip_failures=False,
    progress=None,
):
    """How similar the test split is to the training split, by SSIM.

    The splits are ``train`` and ``test``: sample tags (default "train" and "test"),
    values of ``split_field``, or two views. For every test sample the run writes its most
    similar training sample (``{key}_best_match``) and that SSIM (``{key}_best_similarity``,
    also ``{key}_score``). Test samples at or above ``threshold`` are ``redundant`` with the
    training match as ``representative`` (a near-identical training image: leakage); the
    ``n_least_similar`` test samples least similar to all training samples are ``outlier``;
    training samples that some leaked test sample matches are ``representative``. With
    ``within_class`` (needs ``label_field``) test samples are compared only with training
    samples of their class. ``mode``: "exhaustive" (every pair), "candidates" (each test
    image's ``n_neighbors`` nearest training images by wavelets) or "auto".
    ``skip_failures`` leaves unreadable images out (listed in the run's ``skipped``).
    """
    check_number("threshold (an SSIM value)", threshold, above=-1, at_most=1)
    n_least_similar = check_number("n_least_similar", n_least_similar, integer=True, at_least=0)
    n_neighbors = check_number("n_neighbors", n_neighbors, integer=True, at_least=1)
    size = image_size_tuple(image_size)
    train_view, test_view = _split_views(samples, train, test, split_field)
    if within_class and label_field is None:
        raise ValueError("within_class=True needs a label_field to tell the classes apart")
    with runs.RunWriter(samples._dataset, key) as writer:
        runs.validate_key(samples, key, SPLIT_METHOD, tuple(SPLIT_FIELDS))
        started = time.perf_counter()
        train_ids, test_ids = train_view.values("id"), test_view.values("id")
        overlap = set(train_ids) & set(test_ids)
        if overlap:
            raise ValueError(
                f"{len(overlap)} samples are in both splits (e.g. {sorted(overlap)[0]}); "
                "a sample must be in the training split or the test split, not both"
            )
        train_groups = read_labels(train_view, label_field) if within_class else None
        test_groups = read_labels(test_view, label_field) if within_class else None
        train_kept, train_images, skipped = read_images(train_view, size, color, num_workers, progress, skip_failures)
        test_kept, test_images, test_skipped = read_images(test_view, size, color, num_workers, progress, skip_failures)
        skipped += test_skipped
        if not train_kept or not test_kept:
            raise ValueError(f"no image of the {'training' if not train_kept else 'test'} split could be read; see the reasons: {skipped[:3]}")
        train_ids, test_ids = [train_ids[i] for i in train_kept], [test_ids[i] for i in test_kept]
        if within_class:
            train_groups, test_groups = [train_groups[i] for i in train_kept], [test_groups[i] for i in test_kept]
        decode_seconds = time.perf_counter() - started

        runs.checkpoint("decoded")
        started = time.perf_counter()
        result = split_similarity(
            train_images,
            test_images,
            threshold=threshold,
            n_least_similar=n_least_similar,
            mode=mode,
            n_neighbors=n_neighbors,
            train_groups=train_groups,
            test_groups=test_groups,
            device=device,
        )
        compare_seconds = time.perf_counter() - started
        runs.checkpoint("analysed")

        decisions, best_match_ids = _split_decisions(result, len(train_ids))
        sample_ids = test_ids + train_ids
        best_similarity = [float(v) if np.isfinite(v) else None for v in result.best_similarity]
        extra_fields = {
            "best_match": (fo.StringField, [train_ids[i] if i >= 0 else None for i in best_match_ids] + [None] * len(train_ids)),
            "best_similarity": (fo.FloatField, best_similarity + [None] * len(train_ids)),
        }
        n_near = int(result.near_identical.sum())
        details = {
            "timings": {"decode": decode_seconds, "ssim": compare_seconds},
            "skipped": skipped,
            "n_train": len(train_ids),
            "n_test": len(test_ids),
            "n_near_identical": n_near,
            "share_near_identical": n_near / len(test_ids),
            "least_similar_ids": [test_ids[i] for i in result.least_similar],
            "mode_used": result.mode,
            "n_pairs": int(result.n_pairs),
            "best_similarities": best_similarity,
            "device": resolve_device(device),
        }
        config = {
            "train": train if isinstance(train, str) else "view",
            "test": test if isinstance(test, str) else "view",
            "split_field": split_field,
            "label_field": label_field,
            "within_class": within_class,
            "threshold": threshold,
            "n_least_similar": n_least_similar,
            "mode": mode,
            "n_neighbors": n_neighbors,
            "image_size": list(size),
            "color": color,
            "device": device,
        }
        samples_view = samples._dataset.select(sample_ids)
        return runs.store_run(
            writer, samples_view, SPLIT_METHOD, config, sample_ids, decisions, details, extra_fields
        )


def _split_views(samples, train, test, split_field):
    if isinstance(train, fo.core.collections.SampleCollection):
        train_view, test_view = train, test
    elif split_field is not None:
        if samples.get_field(split_field) is None:
            raise ValueError(f"split_field {split_field!r} does not exist on {samples._dataset.name!r}")
        train_view = samples.match(fo.ViewField(split_field) == train)
        test_view = samples.match(fo.ViewField(split_field) == test)
    else:
        train_view, test_view = samples.match_tags(train), samples.match_tags(test)
    for name, view in (("training", train_view), ("test", test_view)):
        if view._dataset._doc.id != samples._dataset._doc.id:
            raise ValueError(
                f"the {name} view belongs to dataset {view._dataset.name!r}, not "
                f"{samples._dataset.name!r}: a run stays on one dataset. Pass views of "
                f"{samples._dataset.name!r}, or merge the datasets first"
            )
        if len(view) == 0:
            where = f"field {split_field!r}" if split_field else "tags"
            raise ValueError(
                f"the {name} split is empty: no sample has {train if name == 'training' else test!r} "
                f"in its {where}; tag the splits or pass split_field / two views"
            )
        require_images(view, minimum=1)
    return train_view, test_view


def _split_decisions(result, n_train):
    """Contract fields for test samples (first) then training samples."""
    n_test = len(result.best_match)
    status = np.full(n_test + n_train, UNIQUE, dtype=object)
    group = np.full(n_test + n_train, -1, dtype=np.int64)
    representative = np.full(n_test + n_train, -1, dtype=np.int64)
    score = np.zeros(n_test + n_train)
    score[:n_test] = np.where(np.isfinite(result.best_similarity), result.best_similarity, 0)
    status[result.least_similar] = OUTLIER
    leaked = np.flatnonzero(result.near_identical)
    partners = result.best_match[leaked]
    numbers = {partner: number for number, partner in enumerate(dict.fromkeys(partners))}
    for test_index, partner in zip(leaked, partners):
        status[test_index] = REDUNDANT
        representative[test_index] = n_test + partner
        group[test_index] = group[n_test + partner] = numbers[partner]
        status[n_test + partner] = REPRESENTATIVE
    return Decisions(status, group, representative, score), result.best_match
