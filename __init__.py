"""FiftyOne plugin entry point: registers every operator and panel, nothing else.

Imports happen inside ``register`` so that ``fiftyone_redundancy.core`` stays importable
(and benchmarkable) where FiftyOne is not installed.
"""


def register(plugin):
    from .operators.curation import (
        DeleteExcluded,
        ExportCurated,
        SetRepresentative,
        TagRedundancy,
        UntagRedundancy,
    )
    from .operators.features import ComputeBoundaryCrossings, ComputeFeatureClusters
    from .operators.runs import CancelRedundancyRun, DeleteRedundancyRun
    from .operators.ssim import ComputeSplitSimilarity, ComputeSSIMClusters
    from .operators.wavelet import ComputeWaveletClusters
    from .panels.embedding import EmbeddingMapPanel
    from .panels.redundancy import RedundancyPanel

    for operator in (
        ComputeWaveletClusters,
        ComputeSSIMClusters,
        ComputeSplitSimilarity,
        ComputeFeatureClusters,
        ComputeBoundaryCrossings,
        DeleteRedundancyRun,
        CancelRedundancyRun,
        TagRedundancy,
        UntagRedundancy,
        SetRepresentative,
        ExportCurated,
        DeleteExcluded,
        RedundancyPanel,
        EmbeddingMapPanel,
    ):
        plugin.register(operator)
