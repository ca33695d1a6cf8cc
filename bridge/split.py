"""``compute_split_similarity``: train vs test on a FiftyOne view (the leakage study)."""

from contextlib import ExitStack

import fiftyone as fo
import numpy as np

from ..core.devices import resolve_device
from ..core.pair_score import pair_score_parameters
from ..core.split_similarity import SplitParameters, split_decisions, split_similarity
from ..core.streaming import in_memory, scratch_folder
from ..core.timing import stages_reported, timed
from . import runs
from .analysis import ImageReading, analysis_writer, require_memory
from .documented import documented
from .methods import SPLIT
from .progress import StageProgress
from .samples import image_size_tuple, media_record, paths_of, read_embeddings, read_images, read_labels, require_images
from .similarity import check_index_config, index_cross_search

SPLIT_FIELDS = {"best_match": fo.StringField, "best_similarity": fo.FloatField}


@documented
def compute_split_similarity(
    samples,
    train="train",
    test="test",
    split_field=None,
    label_field=None,
    within_class=False,
    key=SPLIT.default_key,
    threshold=SplitParameters.threshold,
    n_least_similar=SplitParameters.n_least_similar,
    mode=SplitParameters.mode,
    image_size=ImageReading.image_size,
    color=ImageReading.color,
    device=None,
    pair_score=None,
    embeddings_field=None,
    similarity_backend=None,
    similarity_config=None,
    executor=None,
    num_workers=ImageReading.num_workers,
    skip_failures=ImageReading.skip_failures,
    progress=None,
    overwrite=False,
):
    """How similar the test split is to the training split, by the plugin's pair score
    (see :func:`compute_ssim_clusters`: aligned SSIM of colour-normalised images, fused
    with ``embeddings_field`` when given).

    For every test sample the run writes its most similar training sample
    (``{key}_best_match``) and that pair score (``{key}_best_similarity``, also
    ``{key}_score``). Test samples at or above ``threshold`` are ``redundant`` with the
    training match as ``representative`` (a near-identical training image: leakage); the
    ``n_least_similar`` test samples least similar to all training samples are
    ``outlier``; training samples that some leaked test sample matches are
    ``representative``. The run's ``least_similar_view()`` shows those test samples.

    Args:
        samples: a FiftyOne dataset or view holding both splits
        train: the training split: a sample tag, a value of ``split_field``, or a view
        test: the test split, given like ``train``
        split_field: a field whose values ``train`` and ``test`` are; None: they are tags
            (or views)
        label_field: a ``Classification`` field, for ``within_class``
        within_class: compare test samples only with training samples of their class
            (needs ``label_field``)
        threshold: a test sample whose best pair score with a training sample reaches
            this has a near-identical training image
        n_least_similar: how many of the test samples least similar to all training
            samples are ``outlier``
        mode: "exhaustive" (every pair), "candidates" (each test image with its nearest
            training images by each descriptor, ``pair_score["n_neighbors"]`` of them)
            or "auto" (exhaustive up to ``SplitParameters.max_exhaustive_pairs`` pairs)
        device: where the pair score runs: None (a CUDA GPU when there is one), "cpu" or
            "cuda"
        pair_score: a dict or ``PairScoreParameters`` tuning candidates and verification;
            None: the pair score's defaults
        similarity_backend: a fiftyone-brain similarity backend ("sklearn", "lancedb",
            "milvus", "qdrant", ...) that indexes the training images' descriptors and
            finds each test image's candidates in ``mode="candidates"`` (the exhaustive
            mode compares every pair and needs none); every candidate is still verified,
            so an index can miss a pair but never add one. None: the blocked search
        executor: ``fr.RayExecutor()`` (a local Ray), ``fr.RayExecutor("auto")`` or
            ``fr.RayExecutor("host:port")`` (a cluster; the ``[distributed]`` extra)
            decodes both splits by chunks and verifies the pairs in shards as Ray tasks,
            with the same scores and decisions; None: this process

    Returns:
        a :class:`RedundancyRun`
    """
    parameters = SplitParameters(
        threshold=threshold,
        n_least_similar=n_least_similar,
        mode=mode,
        pair_score=pair_score_parameters(pair_score, device),
    )
    check_index_config(similarity_backend, similarity_config)
    size = image_size_tuple(image_size)
    train_view, test_view = _split_views(samples, train, test, split_field)
    require_memory(len(train_view) + len(test_view), size, color)
    if within_class and label_field is None:
        raise ValueError("within_class=True needs a label_field to tell the classes apart")
    with ExitStack() as stack:
        writer = stack.enter_context(analysis_writer(samples, SPLIT, key, overwrite, tuple(SPLIT_FIELDS)))
        # with Ray, the images are decoded by chunks as tasks into a folder of this run's
        folder = None if executor is None else stack.enter_context(scratch_folder())
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
            train_kept, train_images, skipped, repaired = read_images(train_view, size, color, num_workers, progress, skip_failures, check, folder, executor)
            test_kept, test_images, test_skipped, test_repaired = read_images(test_view, size, color, num_workers, progress, skip_failures, check, folder, executor)
            train_images, test_images = in_memory(train_images), in_memory(test_images)
            skipped += test_skipped
            repaired += test_repaired
            if not train_kept or not test_kept:
                raise ValueError(f"no image of the {'training' if not train_kept else 'test'} split could be read; see the reasons: {skipped[:3]}")
            train_ids, test_ids = [train_ids[i] for i in train_kept], [test_ids[i] for i in test_kept]
            if within_class:
                train_groups, test_groups = [train_groups[i] for i in train_kept], [test_groups[i] for i in test_kept]

        runs.checkpoint("decoded")
        stages = StageProgress(progress, writer.raise_if_cancelled, writer.note_progress)
        with stages_reported(stages.hear), timed(timings, "pair_scores"):
            result = split_similarity(
                train_images,
                test_images,
                parameters,
                train_groups=train_groups,
                test_groups=test_groups,
                train_embeddings=read_embeddings(train_view, embeddings_field, train_ids),
                test_embeddings=read_embeddings(test_view, embeddings_field, test_ids),
                progress=lambda done, total: stages.counted(done, total, "pairs"),
                search=index_cross_search(samples, train_ids, similarity_backend, similarity_config),
                executor=executor,
            )  # fmt: skip
        runs.checkpoint("analysed")
        stages.hear("write", False)

        decisions = split_decisions(result, len(train_ids), result.pairs_test_first(), parameters.threshold)
        sample_ids = test_ids + train_ids
        best_similarity = _finite_or_none(result.best_similarity)
        extra_fields = {
            "best_match": (fo.StringField, [train_ids[i] if i >= 0 else None for i in result.best_match] + [None] * len(train_ids)),
            "best_similarity": (fo.FloatField, best_similarity + [None] * len(train_ids)),
        }
        n_near = int(result.near_identical.sum())
        details = {
            "timings": timings,
            "skipped": skipped,
            "repaired": repaired,
            "n_train": len(train_ids),
            "n_test": len(test_ids),
            "n_near_identical": n_near,
            "share_near_identical": n_near / len(test_ids),
            "least_similar_ids": [test_ids[i] for i in result.least_similar],
            "closest_similarities": _finite_or_none(result.closest_raw),
            "mode_used": result.mode,
            "n_pairs": len(result.pairs.score),
            "best_similarities": best_similarity,
            "sample_ids": sample_ids,
            "pairs": result.pairs_test_first().as_record(),
            "identities": result.identities.as_record(),
            "media": media_record(paths_of(samples, sample_ids)),
            "identical": result.identities.counts(),
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
            "similarity_backend": similarity_backend,
            **runs.parameters_record(parameters),
        }
        samples_view = samples._dataset.select(sample_ids)
        run = runs.store_run(writer, samples_view, SPLIT.name, config, sample_ids, decisions, details, extra_fields)
        stages.hear("write", True)
        return run


def _finite_or_none(values):
    """Scores as stored: a test image compared with nothing (within a class without
    training images) has None."""
    return [float(value) if np.isfinite(value) else None for value in values]


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
