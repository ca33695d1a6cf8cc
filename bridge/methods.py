"""One description per analysis method: what panels, operators and the run record ask
instead of knowing each method.

A run stores its method's ``name`` (as ``redundancy.<name>``); ``RedundancyRun.method_info``
finds its description here. Adding an analysis adds one ``describe(...)`` entry: the
package publishes its function (``fr.<function>``) and the plugin registers its operator
from it.
"""

import importlib
from dataclasses import dataclass

from ..core.feature_analysis import FeatureParameters
from ..core.split_similarity import SplitParameters
from ..core.ssim_analysis import SSIMParameters
from ..core.wavelet_analysis import WaveletParameters


@dataclass(frozen=True)
class Method:
    name: str
    """Stored in the run's config as ``redundancy.<name>``."""
    label: str
    """The analysis in words, as panels and messages name it."""
    parameters: type
    """The parameters dataclass: the one source of the analysis' defaults and checks."""
    default_key: str
    """The run key the analysis stores under unless the user names another."""
    map_space: str = None
    """What places the samples on the embedding map (the run stores ``points``); None:
    the run has no map."""
    map_3d: bool = False
    """Whether the run also stores a 3-D projection (``points_3d``)."""
    views: tuple = ()
    """``RedundancyRun`` views beyond the contract's that mean something for this method."""
    chart: str = None
    """The extra chart a panel draws from the run's details ("spectrum", "similarity")."""
    recut_grouping: str = None
    """The grouping whose runs are decided on their stored pairs alone, so they can be
    reviewed and re-cut; None: reviews and re-cuts do not apply this way."""
    summary: tuple = ("label_field", "grouping", "threshold", "embeddings_field")
    """The parameters that tell its runs apart, as a form sums up the run stored under a key."""
    compares_splits: bool = False
    """Decisions per test image against a training split (leaks), not groups to curate:
    representatives are training matches, not a choice to override."""
    function: str = None
    """``module:name`` (under ``bridge``) of the function that runs the analysis, published
    as ``fiftyone_redundancy.<name>``."""
    operator: str = None
    """``module:Class`` (under ``operators``) of its App operator, which the plugin registers
    (FiftyOne also needs the operator's name in ``fiftyone.yml``)."""

    @property
    def function_name(self):
        """The name the package publishes the analysis' function under."""
        return self.function.split(":")[1]

    def load_function(self):
        return _load("bridge", self.function)

    def load_operator(self):
        return _load("operators", self.operator)


def _load(package, path):
    """Import on demand, so that the table (read by the bridge modules themselves) imports
    neither them nor FiftyOne's operator machinery."""
    module, name = path.split(":")
    return getattr(importlib.import_module(f"{__package__.rpartition('.')[0]}.{package}.{module}"), name)


METHODS = {}
"""Every analysis, by name."""


def describe(**traits):
    method = Method(**traits)
    METHODS[method.name] = method
    return method


WAVELET = describe(name="wavelet_clusters", label="wavelet clusters", parameters=WaveletParameters,
                   default_key="wavelet", map_space="PCA of the kept wavelet coefficients", recut_grouping="score",
                   summary=("label_field", "grouping", "threshold", "radius", "n_clusters", "embeddings_field"),
                   function="wavelet:compute_wavelet_clusters", operator="wavelet:ComputeWaveletClusters")  # fmt: skip
SSIM = describe(name="ssim_spectral", label="SSIM", parameters=SSIMParameters, default_key="ssim",
                map_space="PCA of the images SSIM compared", chart="spectrum", recut_grouping="threshold",
                summary=("label_field", "mode", "grouping", "threshold", "n_clusters", "embeddings_field"),
                function="ssim:compute_ssim_clusters", operator="ssim:ComputeSSIMClusters")  # fmt: skip
SPLIT = describe(name="split_similarity", label="split similarity", parameters=SplitParameters, default_key="split",
                 views=("least_similar_view",), chart="similarity", compares_splits=True,
                 summary=("train", "test", "label_field", "mode", "threshold", "embeddings_field"),
                 function="split:compute_split_similarity", operator="split:ComputeSplitSimilarity")  # fmt: skip
FEATURES = describe(name="feature_maps", label="feature maps", parameters=FeatureParameters, default_key="features",
                    map_space="the reduced layer activations", map_3d=True,
                    summary=("label_field", "reduction", "classwise", "embeddings_field"),
                    function="features:compute_feature_clusters", operator="features:ComputeFeatureClusters")  # fmt: skip


def analysis_functions():
    """``{name: function}`` of every analysis, as the package publishes them."""
    return {method.function_name: method.load_function() for method in METHODS.values()}


def method_named(name):
    """The description of the analysis stored as ``name``."""
    try:
        return METHODS[name]
    except KeyError:
        raise ValueError(f"unknown analysis method {name!r}; the methods are {sorted(METHODS)}") from None
