"""``compute_ssim_clusters`` (Algorithm 2) and ``compute_split_similarity`` (train vs test)
on FiftyOne views."""

import fiftyone as fo
import numpy as np

from ..core.devices import resolve_device
from ..core.pair_score import DEFAULT_THRESHOLD, ScoredPairs, pair_score_parameters
from ..core.split_similarity import SplitParameters, split_decisions, split_similarity
from ..core.ssim_analysis import SSIMParameters, analyze_ssim
from ..core.timing import timed
from . import runs
from .progress import SCORING, stage_progress
from .samples import image_size_tuple, read_embeddings, read_images, read_labels, read_view, require_images

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
    threshold=DEFAULT_THRESHOLD,
    n_clusters=None,
    rule="largest_gap",
    gamma=0.4,
    n_eigenvalues=50,
    memory_budget_gb=2.0,
    random_state=0,
    device=None,
    pair_score=None,
    embeddings_field=None,
    num_workers=4,
    skip_failures=False,
    progress=None,
    overwrite=False,
):
    """Group structurally similar images of ``samples`` by the plugin's pair score: SSIM
    (Wang et al. 2004, 11x11 Gaussian window) at the best alignment of the two images'
    colour-normalised luminance over small shifts and zooms, so re-crops, shifts, colour
    grades and grey versions score as copies. ``pair_score={"verification": "ssim"}``
    gives skimage's plain SSIM of the images as they are (equal to
    ``skimage.metrics.structural_similarity`` within 1e-4); other keys of ``pair_score``
    (``PairScoreParameters``) tune candidates and verification, e.g. ``{"flips": True}``
    or ``{"n_neighbors": 20}``. ``embeddings_field`` adds its nearest neighbours as
    candidates and its cosine to the score.

    ``mode="dense"`` scores every pair (refused past ``memory_budget_gb``); ``"sparse"``
    each image with its candidates (its nearest neighbours by the pair score's
    descriptors), which scales to 50,000+ images; ``"auto"`` picks dense when it fits.
    ``grouping="threshold"`` groups images whose pair score with every other member is at
    least ``threshold``;
    ``"spectral"`` runs spectral clustering into ``n_clusters`` clusters, by default the
    number the Laplacian spectrum gives (``rule``: "largest_gap", or "paper": the number
    of eigen-gaps larger than ``gamma``). The spectrum is stored in the run for plotting.
    Then the decision rule: one label per group keeps the member most similar to the
    others (``representative``), the rest are ``redundant``; mixed labels: ``influential``.
    ``skip_failures`` leaves unreadable images out (listed in the run's ``skipped``).
    ``overwrite``: a key that holds a run covering samples outside ``samples`` is refused
    unless True (those samples would lose the run's fields); a re-run on the same samples
    (or more) replaces the run either way.
    """
    size = image_size_tuple(image_size)
    parameters = SSIMParameters(
        mode=mode,
        grouping=grouping,
        threshold=threshold,
        n_clusters=n_clusters,
        rule=rule,
        gamma=gamma,
        n_eigenvalues=n_eigenvalues,
        memory_budget_gb=memory_budget_gb,
        random_state=random_state,
        pair_score=pair_score_parameters(pair_score, device),
    )
    with runs.RunWriter(samples._dataset, key) as writer:
        runs.validate_key(samples, key, METHOD, overwrite=overwrite)
        sample_ids, labels, images, decode_seconds, skipped = read_view(
            samples, label_field, size, color, num_workers, progress, skip_failures, writer.raise_if_cancelled
        )
        embeddings = read_embeddings(samples, embeddings_field, sample_ids)

        runs.checkpoint("decoded")
        analysis = analyze_ssim(
            images, labels, parameters, embeddings, stage_progress(progress, SCORING, writer.raise_if_cancelled, "pairs")
        )
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
            "pairs": analysis.pairs.as_record(),
        }
        config = {
            "label_field": label_field,
            "image_size": list(size),
            "color": color,
            "embeddings_field": embeddings_field,
            **runs.parameters_record(parameters),
        }
        return runs.store_run(writer, samples, METHOD, config, sample_ids, analysis.decisions, details)


def compute_split_similarity(
    samples,
    train="train",
    test="test",
    split_field=None,
    label_field=None,
    within_class=False,
    key="split",
    threshold=DEFAULT_THRESHOLD,
    n_least_similar=10,
    mode="auto",
    image_size=32,
    color="rgb",
    device=None,
    pair_score=None,
    embeddings_field=None,
    num_workers=4,
    skip_failures=False,
    progress=None,
    overwrite=False,
):
    """How similar the test split is to the training split, by the plugin's pair score
    (see :func:`compute_ssim_clusters`: aligned SSIM of colour-normalised images, fused
    with ``embeddings_field`` when given; ``pair_score`` tunes it).

    The splits are ``train`` and ``test``: sample tags (default "train" and "test"),
    values of ``split_field``, or two views. For every test sample the run writes its most
    similar training sample (``{key}_best_match``) and that pair score
    (``{key}_best_similarity``, also ``{key}_score``). Test samples at or above
    ``threshold`` are ``redundant`` with the training match as ``representative`` (a
    near-identical training image: leakage); the ``n_least_similar`` test samples least
    similar to all training samples are ``outlier``; training samples that some leaked
    test sample matches are ``representative``. With ``within_class`` (needs
    ``label_field``) test samples are compared only with training samples of their class.
    ``mode``: "exhaustive" (every pair), "candidates" (each test image with its nearest
    training images by each descriptor, ``pair_score["n_neighbors"]`` of them) or "auto"
    (exhaustive up to 200,000 pairs). ``skip_failures`` leaves unreadable images out
    (listed in the run's ``skipped``).
    ``overwrite``: a key that holds a run covering samples outside ``samples`` is refused
    unless True (those samples would lose the run's fields); a re-run on the same samples
    (or more) replaces the run either way.
    """
    parameters = SplitParameters(
        threshold=threshold,
        n_least_similar=n_least_similar,
        mode=mode,
        pair_score=pair_score_parameters(pair_score, device),
    )
    size = image_size_tuple(image_size)
    train_view, test_view = _split_views(samples, train, test, split_field)
    if within_class and label_field is None:
        raise ValueError("within_class=True needs a label_field to tell the classes apart")
    with runs.RunWriter(samples._dataset, key) as writer:
        runs.validate_key(samples, key, SPLIT_METHOD, tuple(SPLIT_FIELDS), overwrite=overwrite)
        timings = {}
        with timed(timings, "decode"):
            train_ids, test_ids = train_view.values("id"), test_view.values("id")
            overlap = set(train_ids) & set(test_ids)
            if overlap:
                raise ValueError(
                    f"{len(overlap)} samples are in both splits (e.g. {sorted(overlap)[0]}); "
                    "a sample must be in the training split or the test split, not both"
                )
            train_groups = read_labels(train_view, label_field) if within_class else None
            test_groups = read_labels(test_view, label_field) if within_class else None
            check = writer.raise_if_cancelled
            train_kept, train_images, skipped = read_images(train_view, size, color, num_workers, progress, skip_failures, check)
            test_kept, test_images, test_skipped = read_images(test_view, size, color, num_workers, progress, skip_failures, check)
            skipped += test_skipped
            if not train_kept or not test_kept:
                raise ValueError(f"no image of the {'training' if not train_kept else 'test'} split could be read; see the reasons: {skipped[:3]}")
            train_ids, test_ids = [train_ids[i] for i in train_kept], [test_ids[i] for i in test_kept]
            if within_class:
                train_groups, test_groups = [train_groups[i] for i in train_kept], [test_groups[i] for i in test_kept]

        runs.checkpoint("decoded")
        with timed(timings, "pair_scores"):
            result = split_similarity(
                train_images,
                test_images,
                parameters,
                train_groups=train_groups,
                test_groups=test_groups,
                train_embeddings=read_embeddings(train_view, embeddings_field, train_ids),
                test_embeddings=read_embeddings(test_view, embeddings_field, test_ids),
                progress=stage_progress(progress, SCORING, writer.raise_if_cancelled, "pairs"),
            )
        runs.checkpoint("analysed")

        decisions = split_decisions(result, len(train_ids))
        sample_ids = test_ids + train_ids
        best_similarity = [float(v) if np.isfinite(v) else None for v in result.best_similarity]
        extra_fields = {
            "best_match": (fo.StringField, [train_ids[i] if i >= 0 else None for i in result.best_match] + [None] * len(train_ids)),
            "best_similarity": (fo.FloatField, best_similarity + [None] * len(train_ids)),
        }
        n_near = int(result.near_identical.sum())
        details = {
            "timings": timings,
            "skipped": skipped,
            "n_train": len(train_ids),
            "n_test": len(test_ids),
            "n_near_identical": n_near,
            "share_near_identical": n_near / len(test_ids),
            "least_similar_ids": [test_ids[i] for i in result.least_similar],
            "closest_similarities": [float(v) if np.isfinite(v) else None for v in result.closest_raw],
            "mode_used": result.mode,
            "n_pairs": len(result.pairs.score),
            "best_similarities": best_similarity,
            "sample_ids": sample_ids,
            # indices into sample_ids (test images first), as every run stores its pairs
            "pairs": ScoredPairs(result.pairs.first, result.pairs.second + len(test_ids), result.pairs.score).as_record(),
            "device": resolve_device(device),
        }
        config = {
            "train": train if isinstance(train, str) else "view",
            "test": test if isinstance(test, str) else "view",
            "split_field": split_field,
            "label_field": label_field,
            "within_class": within_class,
            "image_size": list(size),
            "color": color,
            "embeddings_field": embeddings_field,
            **runs.parameters_record(parameters),
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
