"""One description per analysis: the method table, the defaults the forms and docstrings
read from the code, and runs that answer what their method offers."""

import dataclasses
import inspect
import os
import re

import pytest

import fiftyone_redundancy as fr
from fiftyone_redundancy.bridge.documented import documented
from fiftyone_redundancy.bridge.methods import METHODS
from fiftyone_redundancy.core.ssim_analysis import SSIMParameters
from fiftyone_redundancy.core.wavelet_analysis import WaveletParameters


def test_every_method_is_described_once_with_its_parameters():
    assert set(METHODS) == {"wavelet_clusters", "ssim_spectral", "split_similarity", "feature_maps"}
    assert {name for name, method in METHODS.items() if method.map_space} == {"wavelet_clusters", "ssim_spectral", "feature_maps"}
    assert all(inspect.isclass(method.parameters) for method in METHODS.values())


def test_the_api_defaults_are_the_parameter_dataclasses():
    signature = inspect.signature(fr.compute_wavelet_clusters).parameters
    assert signature["tau"].default == WaveletParameters().tau
    assert signature["radius"].default == WaveletParameters().radius
    assert inspect.signature(fr.compute_ssim_clusters).parameters["gamma"].default == SSIMParameters().gamma


def declared_fields():
    from fiftyone_redundancy.bridge.choices import ExtractionParameters, PairScoreParameters, RepairParameters

    classes = [method.parameters for method in METHODS.values()] + [ExtractionParameters, PairScoreParameters, RepairParameters]
    return [(cls, item) for cls in classes for item in dataclasses.fields(cls) if "bounds" in item.metadata]


@pytest.mark.parametrize("cls,item", declared_fields(), ids=lambda value: getattr(value, "name", getattr(value, "__name__", "")))
def test_a_declared_parameter_is_checked_and_offered_by_its_one_declaration(cls, item):
    """The bounds written once in the dataclass field refuse a value just past them, and
    the form's input carries the same bounds, default and words (``declared_input``)."""
    import fiftyone.operators.types as types

    from fiftyone_redundancy.operators.forms import declared_input

    bounds, named = item.metadata["bounds"], re.escape(item.metadata["named"] or item.name)
    for bound, past in (("at_least", -1), ("above", 0), ("at_most", 1), ("below", 0)):
        if bound in bounds:
            value = bounds[bound] + past
            with pytest.raises(ValueError, match=rf"^{named} must be"):
                cls(**{item.name: value})
    if bounds.get("integer"):
        with pytest.raises(ValueError, match=rf"^{named} must be a whole number"):
            cls(**{item.name: (item.default or 3) + 0.5})
    inputs = types.Object()
    declared_input(inputs, cls, item.name)
    shown = inputs.properties[item.name].to_json()
    assert shown["default"] == item.default and shown["view"]["label"] == item.metadata["label"]
    assert shown["type"]["int"] is bool(bounds.get("integer"))
    assert shown["type"]["min"] == bounds.get("at_least", bounds.get("above"))
    assert shown["type"]["max"] == bounds.get("at_most", bounds.get("below"))
    assert getattr(cls(), item.name) == item.default  # and the declaration's default is the dataclass's


def test_docstrings_name_each_argument_with_its_default():
    doc = fr.compute_wavelet_clusters.__doc__
    assert f"tau ({WaveletParameters().tau!r}): " in doc and "key ('wavelet'): " in doc
    for function in (fr.compute_ssim_clusters, fr.compute_split_similarity, fr.compute_feature_clusters, fr.export_curated):
        assert "Returns:" in function.__doc__


def test_a_docstring_that_leaves_out_an_argument_is_refused_at_import():
    def undocumented(samples, threshold=0.5):
        """Something.

        Args:
            samples: a view
        """

    with pytest.raises(TypeError, match="threshold"):
        documented(undocumented)


def _shared(dataset, progress=None, num_workers=4):
    """Something.

    Args:
        num_workers: threads that write
    """


def test_a_shared_argument_is_described_once_unless_a_function_means_something_else():
    shared = documented(_shared)
    assert "        dataset: a FiftyOne dataset\n" in shared.__doc__
    assert "        progress (None): FiftyOne's: None/True/False" in shared.__doc__
    assert "        num_workers (4): threads that write\n" in shared.__doc__
    assert shared.__doc__.index("dataset:") < shared.__doc__.index("progress (") < shared.__doc__.index("num_workers (")


def test_a_run_answers_its_methods_views(small_dataset):
    wavelet = fr.compute_wavelet_clusters(small_dataset, key="described", progress=False)
    assert wavelet.method_info is METHODS["wavelet_clusters"]
    with pytest.raises(ValueError, match="only split-similarity runs rank test samples"):
        wavelet.least_similar_view()
    # the demo's splits are tagged "train" and "test"
    split = fr.compute_split_similarity(small_dataset, key="described_split", n_least_similar=3, progress=False)
    assert split.method_info.views == ("least_similar_view",)
    assert len(split.least_similar_view()) == 3


def test_the_ssim_run_stores_the_eigengap_count_its_panel_shows(small_dataset):
    from fiftyone_redundancy.core.spectral import clusters_from_spectrum

    run = fr.compute_ssim_clusters(small_dataset.limit(60), key="gaps", rule="paper", progress=False)
    assert run.details["eigengap_clusters"] == clusters_from_spectrum(run.details["spectrum"], "paper", 0.4)


def test_each_method_is_published_and_registered_from_its_table_entry():
    import yaml

    import fiftyone_redundancy

    registered = []

    class Plugin:
        def register(self, cls):
            registered.append(cls().config.name)

    fiftyone_redundancy.register(Plugin())
    with open(os.path.join(os.path.dirname(fiftyone_redundancy.__file__), "fiftyone.yml")) as manifest:
        listed = yaml.safe_load(manifest)
    assert sorted(registered) == sorted(listed["operators"] + listed["panels"])  # FiftyOne registers what both name
    for method in METHODS.values():
        function = method.load_function()
        assert getattr(fr, function.__name__) is function and function.__name__ in fr.api.__all__
        assert method.load_operator()().config.name in registered


def test_an_ssim_run_stored_without_its_eigengap_count_still_shows_it(small_dataset):
    from fiftyone_redundancy.bridge.runs import update_results
    from fiftyone_redundancy.core.spectral import clusters_from_spectrum

    run = fr.compute_ssim_clusters(small_dataset.limit(60), key="old", progress=False)

    def as_stored_before(results):  # runs stored before 2026-11-28 have no eigengap_clusters
        del results.eigengap_clusters

    update_results(small_dataset, "old", as_stored_before)
    old = fr.load_run(small_dataset, "old")
    assert "eigengap_clusters" not in small_dataset.load_run_results("old", cache=False).attributes()
    assert old.details["eigengap_clusters"] == clusters_from_spectrum(run.details["spectrum"], "largest_gap", 0.4)


def test_a_run_stored_with_its_pairs_as_lists_still_reads_and_recuts_them(small_dataset):
    import numpy as np

    from fiftyone_redundancy.bridge.runs import update_results

    run = fr.compute_wavelet_clusters(small_dataset.limit(60), key="lists", progress=False)
    stored = run.details["pairs"]
    assert small_dataset.load_run_results("lists", cache=False).pairs["encoding"] == "base64"

    def as_stored_before(results):  # runs stored before 2026-11-28 kept their pairs as lists
        results.pairs = {name: values.tolist() for name, values in stored.items()}

    update_results(small_dataset, "lists", as_stored_before)
    assert isinstance(small_dataset.load_run_results("lists", cache=False).pairs["first"], list)
    old = fr.load_run(small_dataset, "lists")
    for name, values in stored.items():
        np.testing.assert_array_equal(old.details["pairs"][name], values)
    recut = fr.recut_run(small_dataset, "lists", 0.9)
    assert recut.parameters["threshold"] == 0.9 and recut.counts["redundant"] <= run.counts["redundant"]
