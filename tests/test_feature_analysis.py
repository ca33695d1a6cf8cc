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
    model = load_model(str(saved_resnet / "whole.pt"), trust_model_file=True)
    assert "layer3" in layer_names(model)
    maps = extract_features(model, "layer3", images, batch_size=2, pool=False)
    assert maps.shape == (5, 256 * 2 * 2)  # layer3 of resnet18 on 32x32: 256 x 2 x 2
    pooled = extract_features(model, "layer3", images, batch_size=2)
    assert pooled.shape == (5, 256)
    np.testing.assert_allclose(pooled, maps.reshape(5, 256, 4).mean(axis=2), rtol=1e-5, atol=1e-6)


def test_every_model_source_gives_the_same_features(saved_resnet):
    images = np.random.default_rng(1).random((3, 3, 32, 32)).astype(np.float32)
    whole = extract_features(load_model(str(saved_resnet / "whole.pt"), trust_model_file=True), "avgpool", images)
    from_state = load_model(str(saved_resnet / "state.pt"), architecture="resnet18", num_classes=10)
    scripted = load_model(str(saved_resnet / "scripted.pt"))
    np.testing.assert_allclose(extract_features(from_state, "avgpool", images), whole, rtol=1e-5)
    logits = extract_features(load_model(str(saved_resnet / "whole.pt"), trust_model_file=True), None, images)
    np.testing.assert_allclose(extract_features(scripted, None, images), logits, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="cannot be hooked"):
        extract_features(scripted, "avgpool", images)


def test_unknown_layer_and_architecture_are_refused_with_the_choices(saved_resnet):
    model = load_model(str(saved_resnet / "whole.pt"), trust_model_file=True)
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


def partition(cluster_labels):
    groups = {}
    for index, label in enumerate(cluster_labels):
        groups.setdefault(label, []).append(index)
    return sorted(tuple(members) for members in groups.values())


def planted_blobs(n_blobs=300, per_blob=8, dimension=24, seed=4):
    """Tight blobs of look-alikes (cosine), more than GRAPH_ABOVE rows in all."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_blobs, dimension))
    spread = rng.uniform(0.02, 0.3, (n_blobs, 1, 1))
    return (centres[:, None] + spread * rng.standard_normal((n_blobs, per_blob, dimension))).reshape(-1, dimension)


@pytest.mark.parametrize("share", [0.9, 0.6, 0.2])
def test_graph_linkage_gives_scikit_learns_groups_on_planted_blobs(share):
    from sklearn.cluster import AgglomerativeClustering
    from sklearn.neighbors import kneighbors_graph

    from fiftyone_redundancy.core.linkage import GRAPH_ABOVE, average_linkage_clusters

    points = planted_blobs()
    assert len(points) > GRAPH_ABOVE
    n_clusters = int(share * len(points))
    connectivity = kneighbors_graph(points, 15, metric="cosine", include_self=False)
    reference = AgglomerativeClustering(
        n_clusters=n_clusters, metric="cosine", linkage="average", connectivity=connectivity
    ).fit_predict(points)
    labels = average_linkage_clusters(points, n_clusters, n_neighbors=15)
    assert partition(labels) == partition(reference)


def test_graph_linkage_links_components_when_their_edges_run_out():
    from fiftyone_redundancy.core.linkage import average_linkage_clusters

    rng = np.random.default_rng(5)
    directions = np.eye(6)[:3] * 10  # three far-apart directions, 800 rows each
    points = np.vstack([d + rng.standard_normal((800, 6)) * 0.5 for d in directions])
    labels = average_linkage_clusters(points, 2, n_neighbors=3)
    assert len(set(labels)) == 2
    assert all(len(set(labels[i * 800 : (i + 1) * 800])) == 1 for i in range(3))


def test_outlier_scores_equal_hdbscans_on_planted_outliers():
    import hdbscan

    from fiftyone_redundancy.core.outliers import outlier_scores

    features, _ = planted_features()
    reference = hdbscan.HDBSCAN(min_cluster_size=5, min_samples=5).fit(features).outlier_scores_
    scores = outlier_scores(features, min_cluster_size=5)
    n = len(features)
    assert sorted(np.argsort(-scores)[:3]) == sorted(np.argsort(-reference)[:3]) == [n - 3, n - 2, n - 1]
    np.testing.assert_allclose(scores, np.nan_to_num(reference), atol=1e-3)


def test_outlier_scores_link_a_disconnected_neighbor_graph():
    from fiftyone_redundancy.core.outliers import outlier_scores

    rng = np.random.default_rng(6)
    blobs = [centre + rng.standard_normal((40, 5)) for centre in (np.zeros(5), np.full(5, 50.0))]
    far = np.full((1, 5), 200.0)
    scores = outlier_scores(np.vstack([*blobs, far]), min_cluster_size=5)
    assert np.argmax(scores) == 80 and np.all(np.isfinite(scores))


def test_pca_matches_scikit_learn_with_its_signs():
    from sklearn.decomposition import PCA

    from fiftyone_redundancy.core.feature_analysis import principal_components

    features = np.random.default_rng(7).standard_normal((300, 40)) @ np.diag(np.linspace(5, 0.1, 40))
    np.testing.assert_allclose(principal_components(features, 10), PCA(10).fit_transform(features), atol=1e-8)


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@cuda
def test_the_gpu_gives_the_cpus_analysis():
    features, labels = planted_features(seed=8, per_class=900)  # past GRAPH_ABOVE: the k-NN route
    parameters = FeatureParameters(p_outlier=0.01, p_similar=0.3)
    on_cpu = analyze_features(features, labels, parameters, device="cpu")
    on_gpu = analyze_features(features, labels, parameters, device="cuda")
    np.testing.assert_allclose(on_gpu.reduced, on_cpu.reduced, atol=1e-8)
    np.testing.assert_allclose(on_gpu.outlier_scores, on_cpu.outlier_scores, atol=1e-9)
    assert partition(on_gpu.cluster_labels) == partition(on_cpu.cluster_labels)
    assert list(on_gpu.decisions.status) == list(on_cpu.decisions.status)


@cuda
def test_the_gpu_finds_the_cpus_nearest_neighbors():
    from fiftyone_redundancy.core.neighbors import nearest_neighbors

    points = np.random.default_rng(9).standard_normal((6000, 50))
    on_cpu, on_gpu = nearest_neighbors(points, 15, "cpu"), nearest_neighbors(points, 15, "cuda")
    np.testing.assert_array_equal(on_gpu[0], on_cpu[0])
    np.testing.assert_allclose(on_gpu[1], on_cpu[1])
