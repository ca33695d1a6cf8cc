"""The public Python API, in the style of ``fiftyone.brain``::

    import fiftyone_redundancy as fr  # or fiftyone_redundancy.api

    run = fr.compute_wavelet_clusters(dataset, label_field="ground_truth")
    print(run.summary())
    session.view = run.groups_view()

    ssim = fr.compute_ssim_clusters(dataset, label_field="ground_truth", mode="sparse")
    split = fr.compute_split_similarity(dataset, train="train", test="test")
    split.details["share_near_identical"], split.least_similar_view()

    fr.review_pair(dataset, "ssim", id_a, id_b, "different")  # or "same", "labels_differ"
    print(fr.calibration(dataset, "ssim").at(0.6))  # precision with its Wilson interval
    fr.recut_run(dataset, "ssim", 0.6)  # new groups from the stored pairs, reviews applied
"""

from .bridge.curation import (
    EXPORT_FORMATS,
    curated_view,
    delete_excluded,
    excluded_view,
    export_curated,
    set_representative,
    tag_preview,
    tag_samples,
    untag_samples,
    write_manifest,
)
from .bridge.features import (
    boundary_crossings_between,
    compute_boundary_crossings,
    compute_feature_clusters,
)
from .bridge.review import (
    calibration,
    export_reviews,
    import_reviews,
    load_reviews,
    recut_run,
    review_pair,
    undo_review,
)
from .bridge.runs import (
    RedundancyRun,
    RunCancelled,
    RunInProgressError,
    cancel_run,
    delete_run,
    list_runs,
    rename_run,
    runs_in_progress,
)
from .bridge.split import compute_split_similarity
from .bridge.ssim import compute_ssim_clusters
from .bridge.wavelet import compute_wavelet_clusters
from .core.parallel import RayExecutor


def load_run(dataset, key):
    """The stored run ``key`` of ``dataset``.

    Args:
        dataset: a FiftyOne dataset
        key: the key of one of its redundancy runs (see :func:`list_runs`)

    Returns:
        a :class:`RedundancyRun`: its parameters, counts, timings and views, and
        ``method_info``, the description of its analysis (its label, its map, the views
        beyond the contract's it offers, such as a split's ``least_similar_view()``)
    """
    return RedundancyRun(dataset, key)


__all__ = [
    "RayExecutor",
    "boundary_crossings_between",
    "calibration",
    "export_reviews",
    "import_reviews",
    "load_reviews",
    "recut_run",
    "review_pair",
    "undo_review",
    "compute_boundary_crossings",
    "compute_feature_clusters",
    "EXPORT_FORMATS",
    "curated_view",
    "delete_excluded",
    "excluded_view",
    "export_curated",
    "set_representative",
    "tag_preview",
    "tag_samples",
    "untag_samples",
    "write_manifest",
    "RedundancyRun",
    "RunCancelled",
    "RunInProgressError",
    "compute_split_similarity",
    "compute_ssim_clusters",
    "compute_wavelet_clusters",
    "cancel_run",
    "delete_run",
    "list_runs",
    "load_run",
    "rename_run",
    "runs_in_progress",
]
