"""Feature maps: hook capture, outliers, similar clusters, class-wise shares, the probe."""

import math

import numpy as np
import pytest
import torch
import torchvision

from fiftyone_redundancy.core.feature_analysis import FeatureParameters, analyze_features
from fiftyone_redundancy.core.features import extract_features, layer_names, load_model
from fiftyone_redundancy.core.probe import boundary_crossings, torch_classifier


@pytest.fixture(scope="module")
def saved_resnet(tmp_path_factory):
    """A randomly initialized torchvision resnet18 saved whole, and its state dict."""
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None, num_classes=10)
    folder = tmp_path_factory.mktemp("models")
    torch.save(model, folder / "whole.pt")
    torch.save(model.state_dict(), folder / "state.pt")
    torch.jit.save(torch.jit.script(model), folder / "scripted.pt")
    return folder


def test_hook_captures_the_chosen_layers_output_shape(saved_resnet):
    images = np.random.default_rng(0).random((5, 3, 32, 32)).astype(np.float32)
    model = load_model(str(saved_resnet / "whole.pt"))
    assert "layer3" in layer_names(model)
    maps = extract_features(model, "layer3", images, batch_size=2, pool=False)
    assert maps.shape == (5, 256 * 2 * 2)  # layer3 of resnet18 on 32x32: 256 x 2 x 2
    pooled = extract_features(model, "layer3", images, batch_size=2)
    assert pooled.shape == (5, 256)
    np.testing.assert_allclose(pooled, maps.reshape(5, 256, 4).mean(axis=2), rtol=1e-5, atol=1e-6)


def test_every_model_source_gives_the_same_features(saved_resnet):
    images = np.random.default_rng(1).random((3, 3, 32, 32)).astype(np.float32)
    whole = extract_features(load_model(str(saved_resnet / "whole.pt")), "avgpool", images)
    from_state = load_model(str(saved_resnet / "state.pt"), architecture="resnet18", num_classes=10)
    scripted = load_model(str(saved_resnet / "scripted.pt"))
    np.testing.assert_allclose(extract_features(from_state, "avgpool", images), whole, rtol=1e-5)
    logits = extract_features(load_model(str(saved_resnet / "whole.pt")), None, images)
    np.testing.assert_allclose(extract_features(scripted, None, images), logits, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="cannot be hooked"):
        extract_features(scripted, "avgpool", images)


def test_unknown_layer_and_architecture_are_refused_with_the_choices(saved_resnet):
    model = load_model(str(saved_resnet / "whole.pt"))
    with pytest.raises(ValueError, match="has no layer 'layer9'"):
        extract_features(model, "layer9", np.zeros((1, 3, 32, 32), np.float32))
    with pytest.raises(ValueError, match="unknown torchvision architecture"):
        load_model(architecture="resnet1000")


def planted_features(seed=0, classes=3, per_class=60, dimension=32):
    """Per class: tight clusters of look-alikes, plus a few planted far outliers."""
    rng = np.random.default_rng(seed)
    rows, labels = [], []
    for label in range(classes):
        centre = rng.standard_normal(dimension) * 5
        for _ in range(per_class):
            rows.append(centre + rng.standard_normal(dimension))
            labels.append(label)
    outliers = rng.standard_normal((3, dimension)) * 40
    return np.vstack([rows, outliers]), labels + [0, 1, 2]


def test_planted_outliers_rank_top_by_outlier_score():
    features, labels = planted_features()
    n = len(features)
    analysis = analyze_features(features, labels, FeatureParameters(p_outlier=3 / n, p_similar=0.2))
    top = np.argsort(-analysis.outlier_scores)[:3]
    assert sorted(top) == [n - 3, n - 2, n - 1]
    assert set(np.flatnonzero(analysis.decisions.status == "outlier")) == {n - 3, n - 2, n - 1}


def test_near_duplicates_share_a_cluster_with_one_kept():
    features, labels = planted_features(seed=1)
    copies = features[:4] + np.random.default_rng(2).normal(0, 1e-3, (4, features.shape[1]))
    features = np.vstack([features, copies])
    labels = labels + labels[:4]
    analysis = analyze_features(features, labels, FeatureParameters(p_outlier=0.01, p_similar=0.3))
    n = len(features)
    for original, copy in zip(range(4), range(n - 4, n)):
        assert analysis.cluster_labels[original] == analysis.cluster_labels[copy]
        pair = analysis.decisions.status[[original, copy]]
        assert sorted(pair) in (["redundant", "redundant"], ["redundant", "representative"])


@pytest.mark.parametrize("p_outlier,p_similar", [(0.01, 0.1), (0.05, 0.3)])
def test_classwise_mode_keeps_every_class_share(p_outlier, p_similar):
    rng = np.random.default_rng(3)
    sizes = {"a": 120, "b": 40, "c": 17}
    labels = [label for label, size in sizes.items() for _ in range(size)]
    # class "b" is far more homogeneous: a global clustering would thin it the most
    spread = {"a": 3.0, "b": 0.1, "c": 1.0}
    features = np.vstack([rng.standard_normal(16) * 5 + rng.standard_normal((sizes[l], 16)) * spread[l] for l in sizes])
    analysis = analyze_features(features, labels, FeatureParameters(p_outlier=p_outlier, p_similar=p_similar, classwise=True))
    status = analysis.decisions.status
    for label, size in sizes.items():
        kept = sum(1 for l, s in zip(labels, status) if l == label and s in ("representative", "unique"))
        target = (1 - p_outlier - p_similar) * size
        assert abs(kept - target) <= 1, (label, kept, target)
        assert sum(1 for l, s in zip(labels, status) if l == label and s == "outlier") == math.ceil(p_outlier * size)


def test_bad_shares_and_nan_features_are_refused():
    with pytest.raises(ValueError, match="add up to less than 1"):
        FeatureParameters(p_outlier=0.5, p_similar=0.6)
    features = np.ones((10, 4))
    features[3, 1] = np.nan
    with pytest.raises(ValueError, match=r"rows \[3\]"):
        analyze_features(features)


def test_probe_counts_the_known_crossings_of_a_linear_classifier():
    weights = np.array([1.0, 0.0])

    def two_classes(batch):  # class 1 right of x = 0.5
        return (batch @ weights > 0.5).astype(int)

    crossings, classes = boundary_crossings(two_classes, [0.0, 0.0], [1.0, 0.0], steps=10)
    assert crossings == 1 and classes[0] == 0 and classes[-1] == 1

    def bands(batch):  # classes alternate every 0.25 along x: 0,1,0,1
        return (np.floor(batch[:, 0] / 0.25).astype(int) % 2)

    assert boundary_crossings(bands, [0.01, 0.0], [0.99, 0.0], steps=100)[0] == 3


def test_probe_on_a_torch_linear_layer():
    layer = torch.nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1.0, 0.0], [-1.0, 0.0]]))  # class 0 when x > 0
    crossings, _ = boundary_crossings(torch_classifier(layer), [-1.0, 0.0], [1.0, 0.0], steps=8)
    assert crossings == 1
