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
from .samples import image_size_tuple, media_record, paths_of, read_embeddings, read_view, require_images
from .similarity import check_index_config, index_cross_search
from .update_store import kept_config, update_keeper

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
    update_folder=None,
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
    keeper = update_keeper(update_folder, similarity_backend, executor)
    if keeper is not None and not (isinstance(train, str) and isinstance(test, str)):
        raise ValueError(
            "a split given as two views cannot be kept for updates: update_run reads the splits again "
            "by their tags or split_field values. Tag the splits (or pass split_field), or leave out update_folder"
        )
    return split_run(samples, parameters, key, train, test, split_field, label_field, within_class, image_size,
                     color, embeddings_field, similarity_backend, similarity_config, executor, num_workers,
                     skip_failures, progress, overwrite, keeper)  # fmt: skip


def split_run(samples, parameters, key, train, test, split_field, label_field, within_class, image_size, color,
              embeddings_field, similarity_backend, similarity_config, executor, num_workers, skip_failures,
              progress, overwrite, keeper=None):  # fmt: skip
    """``compute_split_similarity`` once its arguments are checked; an update
    (``bridge.update``) runs it with the stored arguments and a ``keeper`` that reads
    both splits' images through the run's store (test samples first, as the run stores
    them), decoding only the new and changed ones, and knows the evidence of the (test,
    training) pairs of unchanged images the run verified, which is looked up instead of
    verified again (``split_similarity``)."""
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
            both = samples.select(test_ids + train_ids, ordered=True)
            read = read_view if keeper is None else keeper.read
            sample_ids, groups, images, _, skipped, repaired = read(
                both, label_field if within_class else None, size, color, num_workers, progress, skip_failures,
                writer.raise_if_cancelled, folder, executor,
            )  # fmt: skip
            images = in_memory(images)
            n_test = len(set(sample_ids) & set(test_ids))
            if n_test == 0 or n_test == len(sample_ids):
                raise ValueError(f"no image of the {'test' if n_test == 0 else 'training'} split could be read; see the reasons: {skipped[:3]}")
            test_ids, train_ids = sample_ids[:n_test], sample_ids[n_test:]
            test_images, train_images = images[:n_test], images[n_test:]
            test_groups, train_groups = (None, None) if groups is None else (groups[:n_test], groups[n_test:])
            embeddings = read_embeddings(samples, embeddings_field, sample_ids)

        runs.checkpoint("decoded")
        stages = StageProgress(progress, writer.raise_if_cancelled, writer.note_progress)
        with stages_reported(stages.hear), timed(timings, "pair_scores"):
            result = split_similarity(
                train_images,
                test_images,
                parameters,
                train_groups=train_groups,
                test_groups=test_groups,
                train_embeddings=None if embeddings is None else embeddings[n_test:],
                test_embeddings=None if embeddings is None else embeddings[:n_test],
                progress=lambda done, total: stages.counted(done, total, "pairs"),
                search=index_cross_search(samples, train_ids, similarity_backend, similarity_config),
                executor=executor,
                known=None if keeper is None else keeper.known(sample_ids),
            )  # fmt: skip
        runs.checkpoint("analysed")
        stages.hear("write", False)

        pairs = result.pairs_test_first()
        decisions = split_decisions(result, len(train_ids), pairs, parameters.threshold)
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
            "pairs": pairs.as_record(),
            "identities": result.identities.as_record(),
            "media": media_record(paths_of(samples, sample_ids)),
            "identical": result.identities.counts(),
            "device": resolve_device(parameters.pair_score.device),
        }
        if keeper is not None:
            details.update(keeper.keep(writer, sample_ids, images))
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
            **kept_config(keeper, skip_failures),
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
