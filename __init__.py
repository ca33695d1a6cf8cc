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
    from .operators.review import ExportPairReviews, ImportPairReviews, RecutRedundancyRun
    from .operators.runs import DeleteRedundancyRun
    from .operators.ssim import ComputeSplitSimilarity, ComputeSSIMClusters
    from .operators.wavelet import ComputeWaveletClusters
    from .panels.embedding import EmbeddingMapPanel
    from .panels.redundancy import RedundancyPanel
    from .panels.review import PairReviewPanel

    for operator in (
        ComputeWaveletClusters,
        ComputeSSIMClusters,
        ComputeSplitSimilarity,
        ComputeFeatureClusters,
        ComputeBoundaryCrossings,
        DeleteRedundancyRun,
        TagRedundancy,
        UntagRedundancy,
        SetRepresentative,
        ExportCurated,
        DeleteExcluded,
        RecutRedundancyRun,
        ExportPairReviews,
        ImportPairReviews,
        RedundancyPanel,
        EmbeddingMapPanel,
        PairReviewPanel,
    ):
        plugin.register(operator)
