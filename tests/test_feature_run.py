"""compute_feature_clusters and the probe through FiftyOne, with a small CNN trained here."""

import re

import numpy as np
import pytest
import torch
from fiftyone import ViewField as F

import fiftyone_redundancy.api as fr
from fiftyone_redundancy.bridge.features import IMAGENET_MEAN, IMAGENET_STD
from fiftyone_redundancy.core.features import ImageFiles

pytestmark = pytest.mark.slow


def small_cnn(n_classes):
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(16, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(4),
        torch.nn.Flatten(), torch.nn.Linear(512, 64), torch.nn.ReLU(), torch.nn.Linear(64, n_classes),
    )  # fmt: skip


@pytest.fixture(scope="module")
def trained(small_demo_dataset, tmp_path_factory):
    """A CNN trained for a few epochs on the small demo's labels (seconds on a CPU)."""
    torch.manual_seed(0)
    classes = sorted(set(small_demo_dataset.values("ground_truth.label")))
    targets = torch.tensor([classes.index(l) for l in small_demo_dataset.values("ground_truth.label")])
    files = ImageFiles(small_demo_dataset.values("filepath"), mean=IMAGENET_MEAN, std=IMAGENET_STD)
    images = torch.stack([files[i] for i in range(len(files))])
    model = small_cnn(len(classes))
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(8):
        for batch in torch.randperm(len(images)).split(64):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(images[batch]), targets[batch]).backward()
            optimizer.step()
    accuracy = (model(images).argmax(1) == targets).float().mean().item()
    path = tmp_path_factory.mktemp("cnn") / "cnn.pt"
    torch.save(model.eval(), path)
    return str(path), accuracy


def test_the_cnn_learned_something(trained):
    assert trained[1] > 0.6


def test_exact_copies_share_a_cluster_with_one_kept(small_dataset, trained):
    run = fr.compute_feature_clusters(small_dataset, model_path=trained[0], trust_model_file=True, layer="8", label_field="ground_truth",
                                      p_outlier=0.01, p_similar=0.1, progress=False)  # fmt: skip
    assert run.parameters["layer"] == "8" and run.details["feature_dimensions"] == 64
    for copy in small_dataset.match(F("planted_transform") == "exact"):
        original = small_dataset.match((F("planted_group") == copy.planted_group) & (F("planted_transform") == "original")).first()
        assert copy.features_group == original.features_group >= 0
        kept = {copy.features_representative or copy.id, original.features_representative or original.id}
        assert len(kept) == 1 or copy.features_status == "influential"
    n = len(small_dataset)
    assert run.counts["outlier"] == int(np.ceil(0.01 * n))
    assert len(run.details["points_3d"]) == n and len(run.details["points_3d"][0]) == 3


def test_classwise_run_keeps_each_class_share(small_dataset, trained):
    run = fr.compute_feature_clusters(small_dataset, model_path=trained[0], trust_model_file=True, layer="8", label_field="ground_truth",
                                      classwise=True, p_outlier=0.02, p_similar=0.2, key="cw", progress=False)  # fmt: skip
    labels = small_dataset.values("ground_truth.label")
    status = small_dataset.values("cw_status")
    for label in set(labels):
        size = labels.count(label)
        kept = sum(1 for l, s in zip(labels, status) if l == label and s in ("representative", "unique"))
        assert abs(kept - 0.78 * size) <= 1
    assert run.counts["influential"] == 0


def test_an_embeddings_field_gives_the_same_result_as_the_model(small_dataset, trained):
    from fiftyone_redundancy.core.features import extract_features, load_model

    files = ImageFiles(small_dataset.values("filepath"), mean=IMAGENET_MEAN, std=IMAGENET_STD)
    embeddings = extract_features(load_model(trained[0], trust_model_file=True), "8", files)
    small_dataset.set_values("embedding", [row.tolist() for row in embeddings])
    a = fr.compute_feature_clusters(small_dataset, embeddings_field="embedding", key="from_field", progress=False)
    b = fr.compute_feature_clusters(small_dataset, model_path=trained[0], trust_model_file=True, layer="8", key="from_model", progress=False)
    assert small_dataset.values("from_field_status") == small_dataset.values("from_model_status")
    assert a.parameters["source"] == "field:embedding" and b.counts == a.counts


def test_stored_features_feed_the_pair_score_and_go_with_the_run(small_dataset, trained):
    run = fr.compute_feature_clusters(small_dataset, model_path=trained[0], trust_model_file=True, layer="8", key="feat",
                                      store_features=True, progress=False)  # fmt: skip
    vectors = np.array(small_dataset.values("feat_embedding"))
    assert vectors.shape == (len(small_dataset), run.details["reduced_dimensions"])
    assert "feat_embedding" in run.fields
    fused = fr.compute_wavelet_clusters(small_dataset, embeddings_field="feat_embedding", key="fused", progress=False)
    assert fused.parameters["embeddings_field"] == "feat_embedding"
    for copy in small_dataset.match(F("planted_transform") == "exact"):  # still found with the fused score
        assert copy.fused_group >= 0
    fr.delete_run(small_dataset, "feat")
    assert "feat_embedding" not in small_dataset.get_field_schema()
    small_dataset.set_values("mine_embedding", [[1.0, 2.0]] * len(small_dataset))
    with pytest.raises(ValueError, match="mine_embedding"):
        fr.compute_feature_clusters(small_dataset, model_path=trained[0], trust_model_file=True, key="mine", store_features=True, progress=False)
    assert small_dataset.values("mine_embedding")[0] == [1.0, 2.0]


def test_a_zoo_model_offline_fails_with_a_clear_message(small_dataset):
    with pytest.raises(ValueError, match="needs the internet"):
        fr.compute_feature_clusters(small_dataset, zoo_model="no-such-zoo-model-for-tests", progress=False)


def test_probe_writes_crossings_and_exact_copies_never_cross(small_dataset, trained):
    fr.compute_wavelet_clusters(small_dataset, label_field="ground_truth", key="wav", progress=False)
    counts = fr.compute_boundary_crossings(small_dataset, "wav", model_path=trained[0], trust_model_file=True, steps=16)
    redundant = small_dataset.match(F("wav_status") == "redundant")
    assert set(counts) == set(redundant.values("id"))
    for sample in redundant.match(F("planted_transform") == "exact"):
        assert sample.wav_crossings == 0
    assert "wav_crossings" in fr.load_run(small_dataset, "wav").fields
    fr.delete_run(small_dataset, "wav")
    assert "wav_crossings" not in small_dataset.get_field_schema()
    crossings, classes = fr.boundary_crossings_between(
        small_dataset.first().filepath, small_dataset.last().filepath, model_path=trained[0], trust_model_file=True, steps=8
    )
    assert len(classes) == 9 and crossings >= 0


PLUGIN = "@fiftyone-redundancy/redundancy"


def test_operator_asks_for_the_layer_by_name_and_writes_the_api_fields(small_dataset, trained):
    import fiftyone.operators as foo
    from fiftyone.operators.executor import ExecutionContext
    from fiftyone.operators.registry import OperatorRegistry

    # the form never loads the model (it is built again on every edit): the layer is a name
    operator = OperatorRegistry().get_operator(f"{PLUGIN}/compute_feature_clusters")
    ctx = ExecutionContext(request_params={"dataset_name": small_dataset.name, "params": {"model_path": trained[0]}})
    layer = operator.resolve_input(ctx).to_json()["type"]["properties"]["layer"]
    assert layer["type"]["name"] == "String" and "choices" not in layer.get("view", {})

    params = {"model_path": trained[0], "trust_model_file": True, "layer": "no_such_layer", "key": "op_features", "view_target": "DATASET"}
    failed = foo.execute_operator(f"{PLUGIN}/compute_feature_clusters", ctx=dict(dataset=small_dataset, params=params))
    (notice,) = [r["params"] for r in failed.to_json()["executor"]["requests"] if r["operator_uri"] == "notify"]
    assert notice["variant"] == "error"  # the App shows the reason; nothing is stored
    assert re.search(r"has no layer 'no_such_layer'; its layers are \['0', '1'", notice["message"]), notice["message"]
    assert "op_features" not in fr.list_runs(small_dataset)

    params = {"model_path": trained[0], "trust_model_file": True, "layer": "8", "key": "op_features", "label_field": "ground_truth", "view_target": "DATASET"}
    result = foo.execute_operator(f"{PLUGIN}/compute_feature_clusters", ctx=dict(dataset=small_dataset, params=params))
    assert result.error is None, result.error
    fr.compute_feature_clusters(small_dataset, model_path=trained[0], trust_model_file=True, layer="8", label_field="ground_truth", key="py_features", progress=False)
    assert small_dataset.values("op_features_status") == small_dataset.values("py_features_status")


def test_the_probe_form_offers_only_model_sources_it_can_run(small_dataset):
    from fiftyone.operators.executor import ExecutionContext
    from fiftyone.operators.registry import OperatorRegistry

    fr.compute_wavelet_clusters(small_dataset, key="probed", progress=False)
    operator = OperatorRegistry().get_operator(f"{PLUGIN}/compute_boundary_crossings")
    ctx = ExecutionContext(request_params={"dataset_name": small_dataset.name, "params": {"key": "probed"}})
    properties = operator.resolve_input(ctx).to_json()["type"]["properties"]
    assert [choice["value"] for choice in properties["source"]["view"]["choices"]] == ["file", "torchvision"]


def test_an_architecture_without_its_checkpoint_runs_only_when_random_weights_are_asked(small_dataset):
    with pytest.raises(ValueError, match="has no checkpoint .* random_weights=True"):
        fr.compute_feature_clusters(small_dataset, architecture="mobilenet_v3_small", progress=False)
    assert "features" not in fr.list_runs(small_dataset)
    view = small_dataset.limit(60)
    run = fr.compute_feature_clusters(view, architecture="mobilenet_v3_small", random_weights=True, reduction="pca",
                                      n_reduce=8, progress=False)  # fmt: skip
    assert run.parameters["random_weights"] is True

