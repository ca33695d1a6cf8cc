"""``compute_feature_clusters`` (feature-map analysis) and ``compute_boundary_crossings``
(the decision-boundary probe) on FiftyOne views."""

import pickle
import time

import fiftyone as fo
import numpy as np

from ..core.feature_analysis import FeatureParameters, analyze_features
from ..core.parameters import check_flag, check_number
from ..core.features import ImageFiles, extract_features, load_model
from ..core.probe import boundary_crossings, torch_classifier
from . import runs
from .samples import image_size_tuple, read_labels, require_images

METHOD = "feature_maps"
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def resolve_model(model=None, model_path=None, architecture=None, num_classes=None):
    """A torch module from an object, a file, or a torchvision architecture + checkpoint."""
    if model is not None:
        return model.eval()
    try:
        return load_model(model_path, architecture, num_classes)
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, RuntimeError, OSError) as error:
        raise ValueError(
            f"cannot load a model from {model_path!r} ({type(error).__name__}: {error}); give a "
            "file saved with torch.save(model) or torch.jit.save, or a state dict together "
            "with its torchvision architecture"
        ) from error


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
    key="features",
    classwise=False,
    reduction="pca",
    n_reduce=50,
    p_outlier=0.01,
    p_similar=0.1,
    min_cluster_size=5,
    image_size=32,
    normalize="imagenet",
    pool=True,
    batch_size=64,
    num_workers=None,
    device=None,
    random_state=0,
    store_features=False,
    progress=None,
    overwrite=False,
):
    """Outliers and semantically similar images of ``samples`` in a trained model's
    feature space (Raud 2023; class-wise as Birodkar et al. 2019).

    Features come from one of: ``model`` (a torch module) or ``model_path`` (a whole saved
    model, or a torchvision ``architecture``'s state dict) hooked at ``layer`` (None: the
    model's output); ``zoo_model`` (a FiftyOne zoo model name: needs the internet the first
    time); or ``embeddings_field`` (embeddings already on the samples). They are reduced
    to ``min(n_reduce, n, d)`` dimensions (``reduction``: "pca", "umap" or "none"); the
    ``ceil(p_outlier * n)`` highest HDBSCAN outlier scores are ``outlier``; agglomerative
    cosine clustering merges the rest into ``floor((1 - p_outlier - p_similar) * n)``
    clusters, keeping the member nearest each cluster's centre. ``classwise`` does all of
    it within each class of ``label_field`` so every class keeps its share.
    ``store_features`` also stores each sample's reduced features (the vectors it
    clustered) in ``{key}_embedding``, owned by the run (renamed and deleted with it), so
    the pair score of the other analyses can take them as a candidate and fused signal:
    ``compute_wavelet_clusters(view, embeddings_field="features_embedding")`` then finds
    semantic near-duplicates and leaks the pixels alone would miss.
    Extraction uses ``num_workers`` DataLoader workers (None: from the CPU count) and
    ``device`` (None: a CUDA GPU when there is one), as do PCA and the k-NN searches.
    ``overwrite``: a key that holds a run covering samples outside ``samples`` is refused
    unless True (those samples would lose the run's fields); a re-run on the same samples
    (or more) replaces the run either way.
    """
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
    size = image_size_tuple(image_size)
    batch_size = check_number("batch_size", batch_size, integer=True, at_least=1)
    if num_workers is not None:
        num_workers = check_number("num_workers", num_workers, integer=True, at_least=0)
    with runs.RunWriter(samples._dataset, key) as writer:
        runs.validate_key(samples, key, METHOD, ("embedding",) if store_features else (), overwrite=overwrite)
        _check_embedding_field(samples._dataset, key, store_features)
        require_images(samples)
        sample_ids = samples.values("id")
        labels = read_labels(samples, label_field)

        started = time.perf_counter()
        features, source = _features(
            samples, model, layer, model_path, architecture, num_classes, zoo_model,
            embeddings_field, size, normalize, pool, batch_size, num_workers, device, progress,
        )  # fmt: skip
        extract_seconds = time.perf_counter() - started
        runs.checkpoint("decoded")

        analysis = analyze_features(features, labels, parameters, device)
        runs.checkpoint("analysed")
        details = {
            "timings": {"extraction": extract_seconds, **analysis.timings},
            "feature_dimensions": int(features.shape[1]),
            "reduced_dimensions": int(analysis.reduced.shape[1]),
            "sample_ids": sample_ids,
            "points": analysis.points_2d.round(5).tolist(),
            "points_3d": analysis.points_3d.round(5).tolist(),
        }
        config = {"label_field": label_field, "layer": layer, "source": source, "image_size": image_size,
                  "normalize": normalize, "pool": pool, "store_features": store_features, **vars(parameters)}  # fmt: skip
        extra = {"embedding": (fo.VectorField, list(analysis.reduced))} if store_features else None
        return runs.store_run(writer, samples, METHOD, config, sample_ids, analysis.decisions, details, extra)


def _check_embedding_field(dataset, key, store_features):
    """Never write over a ``{key}_embedding`` field that the run under ``key`` does not own."""
    field = f"{key}_embedding"
    if store_features and dataset.has_sample_field(field) and field not in runs.RedundancyRun(dataset, key).fields:
        raise ValueError(
            f"field {field!r} on dataset {dataset.name!r} was not written by run {key!r}; "
            "rename or delete it, or choose another key, to store the features there"
        )


def _features(samples, model, layer, model_path, architecture, num_classes, zoo_model,
              embeddings_field, image_size, normalize, pool, batch_size, num_workers, device,
              progress):  # fmt: skip
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
        return features, f"field:{embeddings_field}"
    if zoo_model is not None:
        import fiftyone.zoo as foz

        try:
            loaded = foz.load_zoo_model(zoo_model)
        except Exception as error:
            raise ValueError(
                f"could not load zoo model {zoo_model!r} ({error}); zoo models download their "
                "weights the first time, which needs the internet. Offline, pass a model "
                "checkpoint (model_path) or an embeddings_field instead"
            ) from error
        return np.asarray(samples.compute_embeddings(loaded, progress=progress)), f"zoo:{zoo_model}"
    module = resolve_model(model, model_path, architecture, num_classes)
    mean, std = (IMAGENET_MEAN, IMAGENET_STD) if normalize == "imagenet" else (None, None)
    files = ImageFiles(samples.values("filepath"), image_size, "rgb", mean, std)
    with fo.core.utils.ProgressBar(total=len(files), progress=progress) as bar:
        try:
            features = extract_features(
                module, layer, files, batch_size, num_workers, device, pool,
                progress=lambda done, _: bar.set_iteration(done),
            )  # fmt: skip
        except (AttributeError, TypeError, RuntimeError) as error:
            raise ValueError(
                f"the model could not turn the images into feature vectors ({type(error).__name__}: "
                f"{error}); its output (or layer {layer!r}'s) must be a tensor, or a tuple whose "
                "first item is one, for batches of RGB images of image_size: wrap a model that "
                "returns a dict, or choose another layer"
            ) from error
    return features, model_path or architecture or type(module).__name__


def compute_boundary_crossings(dataset, key, model=None, model_path=None, architecture=None,
                               num_classes=None, steps=32, image_size=32, normalize="imagenet"):  # fmt: skip
    """For every redundant sample of run ``key``: how often the classifier's prediction
    changes on the straight path to its representative (``{key}_crossings``). Zero means
    the model sees the pair as one; more means a decision boundary runs between them."""
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
        classifier = torch_classifier(resolve_model(model, model_path, architecture, num_classes))
        redundant = run.view("redundant")
        ids, representatives = redundant.values("id"), redundant.values(f"{key}_representative")
        paths = dict(zip(dataset.values("id"), dataset.values("filepath")))
        counts = {}
        for sample_id, representative in zip(ids, representatives):
            first, second = (_as_input(paths[i], image_size, normalize) for i in (sample_id, representative))
            counts[sample_id] = boundary_crossings(classifier, first, second, steps)[0]
        results = run._results
        if field not in results.fields:
            results.fields = list(results.fields) + [field]
            dataset.save_run_results(key, results)  # owned before it is written
        dataset.add_sample_field(field, fo.IntField)
        dataset.set_values(field, counts, key_field="id")
        results.probe = {"steps": steps, "n_pairs": len(counts), "pairs_crossing": int(sum(c > 0 for c in counts.values()))}
        dataset.save_run_results(key, results)
    return counts


def boundary_crossings_between(first_path, second_path, model=None, model_path=None,
                               architecture=None, num_classes=None, steps=32, image_size=32,
                               normalize="imagenet"):  # fmt: skip
    """The probe for two image files: ``(crossings, predicted classes along the path)``."""
    classifier = torch_classifier(resolve_model(model, model_path, architecture, num_classes))
    first, second = (_as_input(p, image_size, normalize) for p in (first_path, second_path))
    return boundary_crossings(classifier, first, second, steps)


def _as_input(path, image_size, normalize):
    mean, std = (IMAGENET_MEAN, IMAGENET_STD) if normalize == "imagenet" else (None, None)
    return ImageFiles([path], image_size_tuple(image_size), "rgb", mean, std)[0].numpy()
