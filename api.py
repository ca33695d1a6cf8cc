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
    fr.preview_cut(dataset, "ssim", 0.6)  # the counts at that cut, nothing written
    fr.recut_run(dataset, "ssim", 0.6)  # new groups from the stored pairs, reviews applied
    print(fr.repair_split(dataset, "split", "repaired_split").summary())  # no family spans
    fr.update_run(dataset, "wavelet")  # after adding or deleting samples: as a fresh run
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
from .bridge.curation_cost import CurationCost, curation_cost
from .bridge.features import boundary_crossings_between, compute_boundary_crossings
from .bridge.documented import documented
from .bridge.methods import analysis_functions
from .bridge.review import (
    calibration,
    export_reviews,
    import_reviews,
    load_reviews,
    preview_cut,
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
from .bridge.split_repair import RepairedSplit, repair_split
from .bridge.update import update_run
from .core.parallel import RayExecutor

# compute_wavelet_clusters, compute_ssim_clusters, compute_split_similarity,
# compute_feature_clusters: each analysis' function, as its method table entry names it
globals().update(analysis_functions())


@documented
def load_run(dataset, key):
    """The stored run ``key`` of ``dataset``.

    Args:
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
    "preview_cut",
    "recut_run",
    "review_pair",
    "undo_review",
    "compute_boundary_crossings",
    "EXPORT_FORMATS",
    "curated_view",
    "curation_cost",
    "CurationCost",
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
    "cancel_run",
    "delete_run",
    "list_runs",
    "load_run",
    "rename_run",
    "repair_split",
    "RepairedSplit",
    "runs_in_progress",
    "update_run",
    *analysis_functions(),
]
