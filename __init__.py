"""FiftyOne plugin entry point, and the public Python API::

    import fiftyone_redundancy as fr

    run = fr.compute_wavelet_clusters(dataset, label_field="ground_truth")

The API's names (those of ``fiftyone_redundancy.api``) are imported on first use, and
``register`` imports the operators and panels when FiftyOne loads the plugin, so that
``fiftyone_redundancy.core`` stays importable (and benchmarkable) where FiftyOne is not
installed, and loading the plugin imports nothing it does not need.
"""

import importlib
import sys


def __getattr__(name):
    # only as the installed package: FiftyOne's plugin loader and pytest also load this
    # file under other names, and probe it for attributes (``pytest_plugins``, dunders)
    if __name__ != "fiftyone_redundancy" or (name.startswith("__") and name != "__version__"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if name == "__version__":
        return importlib.import_module(f"{__name__}.version").VERSION
    api = importlib.import_module(f"{__name__}.api")
    if name in api.__all__:
        return getattr(api, name)
    raise AttributeError(f"module 'fiftyone_redundancy' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(importlib.import_module(f"{__name__}.api").__all__))


def register(plugin):
    from .bridge.run_hooks import make_importable

    make_importable(sys.modules[__name__])  # FiftyOne finds this plugin's run class by its path

    from .operators.curation import (
        DeleteExcluded,
        ExportCurated,
        SetRepresentative,
        TagRedundancy,
        UntagRedundancy,
    )
    from .bridge.methods import METHODS
    from .operators.curation_cost import EstimateCurationCost
    from .operators.features import ComputeBoundaryCrossings
    from .operators.review import ExportPairReviews, ImportPairReviews, RecutRedundancyRun
    from .operators.runs import CancelRedundancyRun, DeleteRedundancyRun
    from .operators.split_repair import RepairSplit
    from .operators.update import UpdateRedundancyRun
    from .panels.embedding import EmbeddingMapPanel
    from .panels.redundancy import RedundancyPanel
    from .panels.review import PairReviewPanel

    for operator in (
        *(method.load_operator() for method in METHODS.values()),  # each analysis' own
        ComputeBoundaryCrossings,
        DeleteRedundancyRun,
        CancelRedundancyRun,
        TagRedundancy,
        UntagRedundancy,
        SetRepresentative,
        ExportCurated,
        DeleteExcluded,
        EstimateCurationCost,
        RecutRedundancyRun,
        ExportPairReviews,
        ImportPairReviews,
        RepairSplit,
        UpdateRedundancyRun,
        RedundancyPanel,
        EmbeddingMapPanel,
        PairReviewPanel,
    ):
        plugin.register(operator)
