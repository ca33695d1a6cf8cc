"""FiftyOne plugin entry point: registers every operator and panel, nothing else.

Imports happen inside ``register`` so that ``fiftyone_redundancy.core`` stays importable
(and benchmarkable) where FiftyOne is not installed.
"""


def register(plugin):
    from .operators.runs import DeleteRedundancyRun
    from .operators.wavelet import ComputeWaveletClusters

    plugin.register(ComputeWaveletClusters)
    plugin.register(DeleteRedundancyRun)
