"""One description per analysis: the method table, the defaults the forms and docstrings
read from the code, and runs that answer what their method offers."""

import inspect

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


@pytest.mark.shared_db
def test_a_run_answers_its_methods_views(small_dataset):
    wavelet = fr.compute_wavelet_clusters(small_dataset, key="described", progress=False)
    assert wavelet.method_info is METHODS["wavelet_clusters"]
    with pytest.raises(ValueError, match="only split-similarity runs rank test samples"):
        wavelet.least_similar_view()
    # the demo's splits are tagged "train" and "test"
    split = fr.compute_split_similarity(small_dataset, key="described_split", n_least_similar=3, progress=False)
    assert split.method_info.views == ("least_similar_view",)
    assert len(split.least_similar_view()) == 3


@pytest.mark.shared_db
def test_the_ssim_run_stores_the_eigengap_count_its_panel_shows(small_dataset):
    from fiftyone_redundancy.core.spectral import clusters_from_spectrum

    run = fr.compute_ssim_clusters(small_dataset.limit(60), key="gaps", rule="paper", progress=False)
    assert run.details["eigengap_clusters"] == clusters_from_spectrum(run.details["spectrum"], "paper", 0.4)
