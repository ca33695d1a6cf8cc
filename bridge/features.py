"""``compute_feature_clusters`` (feature-map analysis) and ``compute_boundary_crossings``
(the decision-boundary probe) on FiftyOne views."""

import pickle

import fiftyone as fo
import numpy as np

from ..core.extras import require_features
from ..core.feature_analysis import FeatureParameters, analyze_features
from ..core.features import (
    ExtractionParameters,
    ImageFiles,
    check_layer,
    extract_features,
    extract_features_sharded,
    load_model,
    model_source,
)
from ..core.parameters import check_flag, check_number
from ..core.probe import boundary_crossings, torch_classifier
from ..core.timing import stages_reported, timed
from . import runs
from .analysis import ImageReading, analysis_writer
from .documented import documented
from .methods import FEATURES
from .progress import StageProgress
from .samples import image_size_tuple, read_labels, readable_rows, require_images, sample_records

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def resolve_model(model=None, model_path=None, architecture=None, num_classes=None, trust_model_file=False):
    """A torch module from an object, a file, or a torchvision architecture + checkpoint."""
    if model is not None:
        return model.eval()
    try:
        return load_model(model_path, architecture, num_classes, trust_model_file)
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, RuntimeError, OSError) as error:
        raise ValueError(
            f"cannot load a model from {model_path!r} ({type(error).__name__}: {error}); give a "
            "file saved with torch.save(model) or torch.jit.save, or a state dict together "
            "with its torchvision architecture"
        ) from error


def check_weights(architecture, model_path, random_weights=False):
    """Refuse a torchvision ``architecture`` without its checkpoint unless
    ``random_weights`` asks for untrained weights on purpose: their features place images
    by chance, so the groups, outliers and influential samples would mean nothing."""
    if architecture is not None and model_path is None and not random_weights:
        raise ValueError(
            f"architecture {architecture!r} has no checkpoint (model_path), so its weights would be "
            "random and its groups and outliers chance: give the checkpoint of the trained model, "
            "or pass random_weights=True to use untrained weights on purpose (a baseline)"
        )


@documented
def compute_feature_clusters(
    samples,
    model=None,
    layer=None,
    model_path=None,
    architecture=None,
    num_classes=None,
    zoo_model=None,
    embeddings_field=None,
    label_field=None,
    key=FEATURES.default_key,
    classwise=FeatureParameters.classwise,
    reduction=FeatureParameters.reduction,
    n_reduce=FeatureParameters.n_reduce,
    p_outlier=FeatureParameters.p_outlier,
    p_similar=FeatureParameters.p_similar,
    min_cluster_size=FeatureParameters.min_cluster_size,
    image_size=ExtractionParameters.image_size,
    normalize=ExtractionParameters.normalize,
    pool=ExtractionParameters.pool,
    batch_size=ExtractionParameters.batch_size,
    num_workers=ExtractionParameters.num_workers,
    device=None,
    random_state=FeatureParameters.random_state,
    store_features=False,
    skip_failures=ImageReading.skip_failures,
    executor=None,
    progress=None,
    overwrite=False,
    trust_model_file=False,
    random_weights=False,
):
    """Outliers and semantically similar images of ``samples`` in a trained model's
    feature space (Raud 2023; class-wise as Birodkar et al. 2019).

    The features are reduced to ``min(n_reduce, n, d)`` dimensions; the
    ``ceil(p_outlier * n)`` highest HDBSCAN outlier scores are ``outlier``; agglomerative
    cosine clustering merges the rest into ``floor((1 - p_outlier - p_similar) * n)``
    clusters, keeping the member nearest each cluster's centre (``representative``; the
    rest ``redundant``). Writes ``{key}_status``, ``{key}_group``,
    ``{key}_representative`` and ``{key}_score`` on the samples and stores a run under
    ``key``, with 2-D and 3-D projections for the embedding map. Needs the ``[features]``
    extra (torch, torchvision, umap-learn, hdbscan).

    Args:
        model: a torch module whose features to use
        layer: the name of the layer whose output is captured; None: the model's output
        model_path: a whole saved model (``torch.save(model)`` or TorchScript), or the
            state dict of a torchvision ``architecture``
        zoo_model: a FiftyOne zoo model name (needs the internet the first time)
        embeddings_field: a field of embeddings already on the samples, used instead of
            a model
        label_field: a ``Classification`` field; clusters whose members' labels differ
            are ``influential``
        classwise: cluster within each class of ``label_field``, so every class keeps its
            share
        reduction: "pca", "umap" or "none"
        n_reduce: the dimensions after reduction
        p_outlier: the share of samples marked ``outlier``
        p_similar: the share of samples marked ``redundant``
        min_cluster_size: HDBSCAN's minimum cluster size
        image_size: the size images are resized to for the model, an int (square) or
            ``(width, height)``
        pool: average convolutional feature maps over their spatial positions
        batch_size: images per forward pass
        num_workers: DataLoader workers; None: from the CPU count
        device: where extraction, PCA and the k-NN searches run: None (a CUDA GPU when
            there is one), "cpu" or "cuda"
        random_state: the seed of the reduction and projection
        store_features: also store each sample's reduced features in
            ``{key}_embedding``, owned by the run, so the pair score of the other
            analyses can take them (``embeddings_field="features_embedding"``) and find
            semantic near-duplicates and leaks the pixels alone would miss
        executor: ``fr.RayExecutor()`` (a local Ray), ``fr.RayExecutor("auto")`` or
            ``fr.RayExecutor("host:port")`` (a cluster; the ``[distributed]`` extra) decodes
            the images and runs the model on them as Ray tasks of whole batches; each
            worker builds the model once, from ``model_path`` (which it must be able to
            read, like the images) or from the model sent once through Ray's object
            store. Reduction and clustering stay in this process, so the run is the
            single-process one. Not for ``zoo_model``; an ``embeddings_field`` needs no
            model. None: this process
        random_weights: with ``architecture`` and no ``model_path``, use the untrained
            (random) weights on purpose; without it such a run is refused, since random
            features group images by chance

    Returns:
        a :class:`RedundancyRun`
    """
    require_features("feature maps")
    check_weights(architecture, model_path, random_weights)
    parameters = FeatureParameters(
        reduction=reduction,
        n_reduce=n_reduce,
        p_outlier=p_outlier,
        p_similar=p_similar,
        classwise=classwise,
        min_cluster_size=min_cluster_size,
        random_state=random_state,
    )
    check_flag("store_features", store_features)
    check_flag("skip_failures", skip_failures)
    size = image_size_tuple(image_size)
    extraction = ExtractionParameters(size, normalize, pool, batch_size, num_workers)
    with analysis_writer(samples, FEATURES, key, overwrite, ("embedding",) if store_features else ()) as writer:
        _check_embedding_field(samples._dataset, key, store_features)
        require_images(samples)
        sample_ids = samples.values("id")
        labels = read_labels(samples, label_field)

        timings = {}
        stages = StageProgress(progress, writer.raise_if_cancelled, writer.note_progress)
        with stages_reported(stages.hear):
            with timed(timings, "extraction"):
                features, source, failures = _features(
                    samples, model, layer, model_path, architecture, num_classes, zoo_model,
                    embeddings_field, extraction, device, stages, executor, trust_model_file, skip_failures,
                )  # fmt: skip
            runs.checkpoint("decoded")
            sample_ids, labels, skipped = _readable(samples, sample_ids, labels, failures)
            analysis = analyze_features(features, labels, parameters, device)
        runs.checkpoint("analysed")
        stages.hear("write", False)
        details = {
            "timings": {**timings, **analysis.timings},
            "feature_dimensions": int(features.shape[1]),
            "reduced_dimensions": int(analysis.reduced.shape[1]),
            "sample_ids": sample_ids,
            "points": analysis.points_2d.round(5).tolist(),
            "points_3d": analysis.points_3d.round(5).tolist(),
            "skipped": skipped,
        }
        config = {"label_field": label_field, "layer": layer, "source": source, "image_size": image_size,
                  "normalize": normalize, "pool": pool, "store_features": store_features, "random_weights": random_weights,
                  **vars(parameters)}  # fmt: skip
        extra = {"embedding": (fo.VectorField, list(analysis.reduced))} if store_features else None
        run = runs.store_run(writer, samples, FEATURES.name, config, sample_ids, analysis.decisions, details, extra)
        stages.hear("write", True)
        return run


def _check_embedding_field(dataset, key, store_features):
    """Never write over a ``{key}_embedding`` field that the run under ``key`` does not own."""
    field = f"{key}_embedding"
    if store_features and dataset.has_sample_field(field) and field not in runs.RedundancyRun(dataset, key).fields:
        raise ValueError(
            f"field {field!r} on dataset {dataset.name!r} was not written by run {key!r}; "
            "rename or delete it, or choose another key, to store the features there"
        )


def _readable(samples, sample_ids, labels, failures):
    """The ids and labels of the samples whose image the model read, and the skipped
    ones as records (as the image analyses list them)."""
    if not failures:
        return sample_ids, labels, []
    (skipped,) = sample_records(samples, failures)
    kept = [i for i in range(len(sample_ids)) if i not in failures]
    return (*readable_rows(sample_ids, labels, kept, skipped), skipped)


def _features(samples, model, layer, model_path, architecture, num_classes, zoo_model,
              embeddings_field, extraction, device, stages, executor=None, trust_model_file=False, skip_failures=False):  # fmt: skip
    """``(features, source, {index: reason} of the images skipped)``: from an embeddings
    field, a zoo model, or a torch model run on the image files."""
    if embeddings_field is not None:
        values = samples.values(embeddings_field)
        missing = [i for i, value in zip(samples.values("id"), values) if value is None]
        if missing:
            raise ValueError(
                f"{len(missing)} samples have no {embeddings_field!r} (e.g. {missing[0]}); "
                "compute the embeddings for the whole view first"
            )
        try:
            features = np.asarray(values, dtype=np.float64)
        except (ValueError, TypeError):
            features = None
        if features is None or features.ndim != 2:
            lengths = sorted({len(value) if hasattr(value, "__len__") else 1 for value in values})
            raise ValueError(
                f"embeddings_field {embeddings_field!r} must hold one numeric vector per sample, "
                f"all of one length; it holds {type(values[0]).__name__} values of lengths "
                f"{lengths[:5]}. Recompute the embeddings for the whole view with one model"
            )
        return features, f"field:{embeddings_field}", {}
    if zoo_model is not None:
        if executor is not None:
            raise ValueError(
                f"zoo model {zoo_model!r} runs through FiftyOne in this process, not on Ray: "
                "leave executor out, or pass its checkpoint (model_path) to run it on Ray"
            )
        import fiftyone.zoo as foz

        try:
            loaded = foz.load_zoo_model(zoo_model)
        except Exception as error:
            raise ValueError(
                f"could not load zoo model {zoo_model!r} ({error}); zoo models download their "
                "weights the first time, which needs the internet. Offline, pass a model "
                "checkpoint (model_path) or an embeddings_field instead"
            ) from error
        return np.asarray(samples.compute_embeddings(loaded, progress=stages.progress)), f"zoo:{zoo_model}", {}
    module = resolve_model(model, model_path, architecture, num_classes, trust_model_file)
    mean, std = _statistics(extraction.normalize)
    paths = samples.values("filepath")
    counted = lambda done, _: stages.counted(done, len(paths), "images")  # noqa: E731
    try:
        if executor is None:
            files = ImageFiles(paths, extraction.image_size, "rgb", mean, std, skip_failures)
            features = extract_features(
                module, layer, files, extraction.batch_size, extraction.num_workers, device, extraction.pool, progress=counted
            )
            failures = files.failures
        else:
            check_layer(module, layer)  # here, before any task
            source, payload = model_source(
                module, model_path if model is None else None, architecture, num_classes, trust_model_file
            )
            features, failures = extract_features_sharded(
                executor, source, payload, layer, paths, extraction.image_size, mean, std, extraction.batch_size,
                device, extraction.pool, counted, skip_failures,
            )  # fmt: skip
    except runs.RunCancelled:
        raise
    except (AttributeError, TypeError, RuntimeError) as error:
        raise ValueError(
            f"the model could not turn the images into feature vectors ({type(error).__name__}: "
            f"{error}); its output (or layer {layer!r}'s) must be a tensor, or a tuple whose "
            "first item is one, for batches of RGB images of image_size: wrap a model that "
            "returns a dict, or choose another layer"
        ) from error
    return features, model_path or architecture or type(module).__name__, failures


PROBE_STEPS = 32
"""Points on the path between two images where the probe asks the classifier."""


@documented
def compute_boundary_crossings(dataset, key, model=None, model_path=None, architecture=None, num_classes=None,
                               steps=PROBE_STEPS, image_size=ExtractionParameters.image_size,
                               normalize=ExtractionParameters.normalize, trust_model_file=False):  # fmt: skip
    """For every redundant sample of run ``key``: how often the classifier's prediction
    changes on the straight path to its representative (Yousefzadeh 2020, section 5.3),
    written to ``{key}_crossings`` (a field the run owns). Zero means the model sees the
    pair as one; more means a decision boundary runs between them.

    Args:
        dataset: the dataset of the run
        model: a torch classifier
        model_path: a whole saved classifier (``torch.save(model)`` or TorchScript), or
            the state dict of a torchvision ``architecture``
        steps: the points on each path where the classifier is asked (at least 2)
        image_size: the size images are resized to for the classifier

    Returns:
        ``{sample id: crossings}`` of the run's redundant samples
    """
    require_features("the decision-boundary probe")
    steps = check_number("steps", steps, integer=True, at_least=2)
    image_size_tuple(image_size)  # refuses a bad size before the model runs
    field = f"{key}_crossings"
    with runs.RunWriter(dataset, key):
        run = runs.RedundancyRun(dataset, key)
        if dataset.has_sample_field(field) and field not in run.fields:
            raise ValueError(
                f"field {field!r} on dataset {dataset.name!r} was not written by run {key!r}; "
                "rename or delete it to let the probe write its counts there"
            )
        classifier = torch_classifier(resolve_model(model, model_path, architecture, num_classes, trust_model_file))
        redundant = run.view("redundant")
        ids, representatives = redundant.values("id"), redundant.values(f"{key}_representative")
        paths = dict(zip(dataset.values("id"), dataset.values("filepath")))
        counts = {}
        for sample_id, representative in zip(ids, representatives):
            first, second = (_as_input(paths[i], image_size, normalize) for i in (sample_id, representative))
            counts[sample_id] = boundary_crossings(classifier, first, second, steps)[0]
        runs.add_fields(dataset, key, [field])  # owned before it is written
        dataset.add_sample_field(field, fo.IntField)
        dataset.set_values(field, counts, key_field="id")
        probe = {"steps": steps, "n_pairs": len(counts), "pairs_crossing": int(sum(c > 0 for c in counts.values()))}
        runs.update_results(dataset, key, lambda results: setattr(results, "probe", probe))
    return counts


@documented
def boundary_crossings_between(first_path, second_path, model=None, model_path=None, architecture=None,
                               num_classes=None, steps=PROBE_STEPS, image_size=ExtractionParameters.image_size,
                               normalize=ExtractionParameters.normalize, trust_model_file=False):  # fmt: skip
    """The decision-boundary probe for two image files (see
    :func:`compute_boundary_crossings`).

    Args:
        first_path: the first image file
        second_path: the second image file
        model: a torch classifier
        model_path: a whole saved classifier, or the state dict of a torchvision
            ``architecture``
        steps: the points on the path where the classifier is asked (at least 2)
        image_size: the size images are resized to for the classifier

    Returns:
        ``(crossings, predicted classes along the path)``
    """
    require_features("the decision-boundary probe")
    classifier = torch_classifier(resolve_model(model, model_path, architecture, num_classes, trust_model_file))
    first, second = (_as_input(p, image_size, normalize) for p in (first_path, second_path))
    return boundary_crossings(classifier, first, second, steps)


def _statistics(normalize):
    """The channel means and deviations images are normalized with (None: none)."""
    return (IMAGENET_MEAN, IMAGENET_STD) if normalize == "imagenet" else (None, None)


def _as_input(path, image_size, normalize):
    mean, std = _statistics(normalize)
    return ImageFiles([path], image_size_tuple(image_size), "rgb", mean, std)[0].numpy()
