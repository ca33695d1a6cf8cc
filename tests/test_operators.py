"""The plugin as FiftyOne sees it: discovery, registry, and headless operator runs."""

import re
import sys

import fiftyone.operators as foo
import fiftyone.plugins as fop
import pytest
from fiftyone import ViewField as F

from fiftyone.operators.executor import ExecutionContext, ExecutionError
from fiftyone.operators.registry import OperatorRegistry

import fiftyone_redundancy.api as fr
from fiftyone_redundancy.core.pair_score import DEFAULT_THRESHOLD


PLUGIN = "@fiftyone-redundancy/redundancy"


def test_plugin_and_its_operators_are_discovered():
    assert PLUGIN in [plugin.name for plugin in fop.list_plugins()]
    uris = {operator.uri for operator in foo.list_operators()}
    assert {f"{PLUGIN}/compute_wavelet_clusters", f"{PLUGIN}/delete_redundancy_run"} <= uris


def test_operator_on_a_view_writes_what_the_python_api_writes(small_dataset):
    view = small_dataset.match(F("source") != "skimage")
    result = foo.execute_operator(
        f"{PLUGIN}/compute_wavelet_clusters",
        ctx=dict(
            view=view,
            params={"key": "from_app", "label_field": "ground_truth", "view_target": "CURRENT_VIEW"},
        ),
    )
    assert result.error is None, result.error
    fr.compute_wavelet_clusters(view, label_field="ground_truth", key="from_python", progress=False)

    assert small_dataset.count("from_app_status") == len(view) < len(small_dataset)
    for suffix in ("status", "group", "score"):
        assert view.values(f"from_app_{suffix}") == view.values(f"from_python_{suffix}")
    assert fr.load_run(small_dataset, "from_app").counts == fr.load_run(small_dataset, "from_python").counts
    app_requests = [r["operator_uri"] for r in result.to_json()["executor"]["requests"]]
    assert app_requests[-2:] == ["reload_dataset", "show_output"]  # the App reloads, then shows the result
    assert shown_summary(result).startswith(f"**Wavelet clusters done.** Run **`from_app`** stored: {len(view):,} samples analysed in ")
    assert fr.load_run(small_dataset, "from_app").parameters["label_field"] == "ground_truth"


def test_operator_without_labels_and_with_kmeans(small_dataset):
    result = foo.execute_operator(
        f"{PLUGIN}/compute_wavelet_clusters",
        ctx=dict(
            dataset=small_dataset,
            params={"key": "paper", "label_field": "(none)", "grouping": "kmeans",
                    "n_clusters": 0.9, "view_target": "DATASET"},
        ),
    )
    assert result.error is None, result.error
    run = fr.load_run(small_dataset, "paper")
    assert run.parameters["label_field"] is None and run.counts["influential"] == 0
    assert len(run.group_sizes()) + run.counts["unique"] == round(0.9 * len(small_dataset))


def shown_summary(result):
    """The summary an analysis operator showed the App at its end (its ``show_output``)."""
    (shown,) = [r["params"] for r in result.to_json()["executor"]["requests"] if r["operator_uri"] == "show_output"]
    assert shown["outputs"]["view"]["label"].endswith("done")
    return shown["results"]["summary"]


def resolve_form(dataset, operator_name, params, view=None):
    operator = OperatorRegistry().get_operator(f"{PLUGIN}/{operator_name}")
    request = {"dataset_name": dataset.name, "params": params}
    if view is not None:
        request["view"] = view._serialize()
    ctx = ExecutionContext(request_params=request)
    return operator.resolve_input(ctx).to_json()["type"]["properties"]


def test_operator_form_offers_label_fields_and_flags_bad_keys(small_dataset):
    properties = resolve_form(small_dataset, "compute_wavelet_clusters", {"key": "bad key"})
    choices = [choice["value"] for choice in properties["label_field"]["view"]["choices"]]
    assert choices[0] == "(none)" and "ground_truth" in choices
    assert properties["label_field"]["default"] == "ground_truth"
    assert properties["key"]["invalid"] is True
    assert "threshold" in properties and "n_clusters" not in properties


def test_option_lists_are_the_core_tables_with_the_default_marked(small_dataset):
    from fiftyone_redundancy.core.wavelet_analysis import GROUPINGS

    properties = resolve_form(small_dataset, "compute_wavelet_clusters", {})
    offered = {choice["value"]: choice["label"] for choice in properties["grouping"]["view"]["choices"]}
    assert list(offered) == list(GROUPINGS) and properties["grouping"]["default"] == "score"
    assert offered["score"] == f"{GROUPINGS['score']} (default)" and offered["kmeans"] == GROUPINGS["kmeans"]


def test_a_stored_run_is_summed_up_by_its_own_methods_parameters(small_dataset):
    fr.compute_wavelet_clusters(small_dataset, key="held", progress=False)
    notice = resolve_form(small_dataset, "compute_wavelet_clusters", {"key": "held"})["existing_run"]["view"]["label"]
    assert f"grouping=score, threshold={DEFAULT_THRESHOLD}" in notice
    assert "mode=" not in notice  # PyWavelets' extension mode is not SSIM's mode


def test_operator_form_asks_for_a_cluster_count_with_kmeans(small_dataset):
    properties = resolve_form(small_dataset, "compute_wavelet_clusters", {"grouping": "kmeans"})
    assert "n_clusters" in properties and "threshold" not in properties


def test_delete_operator_asks_for_the_key_typed_and_says_what_it_removed(small_dataset):
    fr.compute_wavelet_clusters(small_dataset, key="gone", progress=False)
    form = resolve_form(small_dataset, "delete_redundancy_run", {"key": "gone", "confirm_key": "gon"})
    assert form["confirm_key"]["invalid"] is True
    assert "gone_status, gone_group" in form["warning"]["view"]["label"]  # the real names, no "{key}"
    uri = f"{PLUGIN}/delete_redundancy_run"
    with pytest.raises(ExecutionError, match="confirm_key"):
        foo.execute_operator(uri, ctx=dict(dataset=small_dataset, params={"key": "gone"}))
    with pytest.raises(ExecutionError, match="Type the run key gone exactly"):
        foo.execute_operator(uri, ctx=dict(dataset=small_dataset, params={"key": "gone", "confirm_key": "Gone"}))
    assert "gone" in fr.list_runs(small_dataset)
    result = foo.execute_operator(uri, ctx=dict(dataset=small_dataset, params={"key": "gone", "confirm_key": "gone"}))
    assert result.error is None, result.error
    assert "gone" not in fr.list_runs(small_dataset)
    assert "gone_status" not in small_dataset.get_field_schema()
    assert "Deleted run `gone`" in result.result["summary"]


def test_a_subset_run_may_not_replace_a_full_run_unless_asked(small_dataset):
    fr.compute_wavelet_clusters(small_dataset, label_field="ground_truth", progress=False)
    subset = small_dataset.match(F("source") == "skimage")
    outside = len(small_dataset) - len(subset)
    with pytest.raises(ValueError, match=rf"{outside} of them are outside .* pass overwrite=True"):
        fr.compute_wavelet_clusters(subset, label_field="ground_truth", progress=False)
    assert small_dataset.count("wavelet_status") == len(small_dataset)  # nothing changed
    fr.compute_wavelet_clusters(small_dataset, progress=False)  # the same samples again: no question
    run = fr.compute_wavelet_clusters(subset, progress=False, overwrite=True)
    assert small_dataset.count("wavelet_status") == len(subset) == sum(run.counts.values())


def test_the_form_describes_the_run_a_key_holds_and_asks_before_a_subset_replaces_it(small_dataset):
    fr.compute_wavelet_clusters(small_dataset, label_field="ground_truth", progress=False)
    subset = small_dataset.match(F("source") == "skimage")
    params = {"key": "wavelet", "view_target": "CURRENT_VIEW"}
    form = resolve_form(small_dataset, "compute_wavelet_clusters", params, view=subset)
    notice = form["existing_run"]["view"]["label"]
    assert f"a run of wavelet clusters on {len(small_dataset):,} samples" in notice and "'wavelet_2'" in notice
    assert "label_field=ground_truth" in notice and f"threshold={DEFAULT_THRESHOLD}" in notice
    assert form["key"]["invalid"] is True and "Replace the run stored under this key" in form["key"]["error_message"]
    assert form["replace"]["type"]["name"] == "Boolean"
    assert not resolve_form(small_dataset, "compute_wavelet_clusters", {**params, "replace": True}, view=subset)["key"].get("invalid")
    whole = resolve_form(small_dataset, "compute_wavelet_clusters", {"key": "wavelet", "view_target": "DATASET"})
    assert "replace" not in whole and not whole["key"].get("invalid")

    uri = f"{PLUGIN}/compute_wavelet_clusters"
    with pytest.raises(ExecutionError, match="Tick 'Replace the run stored under this key' below"):
        foo.execute_operator(uri, ctx=dict(view=subset, params=params))
    assert small_dataset.count("wavelet_status") == len(small_dataset)
    done = foo.execute_operator(uri, ctx=dict(view=subset, params={**params, "replace": True}))
    assert done.error is None, done.error
    assert small_dataset.count("wavelet_status") == len(subset)
    assert f"{len(subset):,} samples analysed" in shown_summary(done)


def shown_requests(result, operator):
    return [r["params"] for r in result.to_json()["executor"]["requests"] if r["operator_uri"] == operator]


def test_a_failing_analysis_ends_with_its_reason_in_the_app(small_dataset):
    missing = small_dataset.first().filepath + ".gone.png"
    sample = small_dataset.first()
    sample.filepath = missing
    sample.save()
    result = foo.execute_operator(
        f"{PLUGIN}/compute_wavelet_clusters", ctx=dict(dataset=small_dataset, params={"key": "broken", "view_target": "DATASET"})
    )
    (notice,) = shown_requests(result, "notify")
    assert notice["variant"] == "error" and missing in notice["message"]
    (shown,) = shown_requests(result, "show_output")
    assert shown["outputs"]["view"]["label"] == "Failed"
    assert shown["results"]["summary"].startswith("**Wavelet clusters failed, nothing changed:**")
    assert missing in shown["results"]["summary"] and "broken" not in fr.list_runs(small_dataset)
    assert "tick 'Skip unreadable images'" in notice["message"]  # the form's box, not skip_failures=True


@pytest.mark.parametrize("operator_name", ["compute_wavelet_clusters", "compute_ssim_clusters",
                                           "compute_split_similarity", "compute_feature_clusters"])  # fmt: skip
def test_every_form_whose_run_reads_images_has_the_box_its_failure_tells_the_user_to_tick(small_dataset, operator_name):
    box = resolve_form(small_dataset, operator_name, {})["skip_failures"]
    assert box["type"]["name"] == "Boolean" and box["view"]["label"] == "Skip unreadable images"
    assert box["default"] is False


@pytest.mark.parametrize("key", ["SSIM", "_hidden", "two words"])
def test_the_form_refuses_a_key_the_api_refuses_as_it_is_typed(small_dataset, key):
    fr.compute_wavelet_clusters(small_dataset, key="ssim", progress=False)
    form = resolve_form(small_dataset, "compute_wavelet_clusters", {"key": key})
    assert form["key"]["invalid"] is True
    with pytest.raises(ValueError) as refused:
        fr.compute_wavelet_clusters(small_dataset, key=key, progress=False)
    assert str(refused.value)[1:] in form["key"]["error_message"]


def test_refusals_reaching_the_app_name_the_checkbox_not_the_python_argument(small_dataset):
    from fiftyone_redundancy.operators.forms import REPLACE_LABEL, app_wording

    fr.compute_wavelet_clusters(small_dataset, progress=False)
    with pytest.raises(ValueError) as refused, app_wording():
        fr.compute_wavelet_clusters(small_dataset.limit(5), progress=False)
    assert f"tick '{REPLACE_LABEL}'" in str(refused.value) and "overwrite=True" not in str(refused.value)
    assert small_dataset.count("wavelet_status") == len(small_dataset)


def test_delegated_run_equals_the_immediate_run(small_dataset):
    from fiftyone.operators.delegated import DelegatedOperationService

    uri = f"{PLUGIN}/compute_wavelet_clusters"
    params = {"key": "queued", "label_field": "ground_truth", "view_target": "DATASET"}
    queued = foo.execute_operator(uri, ctx=dict(dataset=small_dataset, params=params), request_delegation=True)
    assert queued.delegated
    assert "queued" not in fr.list_runs(small_dataset)  # nothing ran yet

    service = DelegatedOperationService()
    service.execute_queued_operations(operator=uri, dataset_name=small_dataset.name)
    small_dataset.reload()
    fr.compute_wavelet_clusters(small_dataset, label_field="ground_truth", key="now", progress=False)
    assert small_dataset.values("queued_status") == small_dataset.values("now_status")
    assert small_dataset.values("queued_group") == small_dataset.values("now_group")


def test_an_analysis_run_from_the_app_reports_its_progress_as_it_goes(small_dataset):
    result = foo.execute_operator(
        f"{PLUGIN}/compute_wavelet_clusters",
        ctx=dict(dataset=small_dataset, params={"key": "watched", "view_target": "DATASET"}),
    )
    assert result.error is None, result.error
    requests = [r["params"] for r in result.to_json()["executor"]["requests"] if r["operator_uri"] == "set_progress"]
    stages = {}
    for request in requests:  # each stage's bar moves forward, and the label names the stage
        stage, percent = re.match(r"Wavelet clusters: (.+) (\d+)%( · [\d,]+ s)? \(to stop it, run Redundancy: cancel", request["label"]).groups()[:2]
        assert float(percent) == round(100 * request["progress"])
        stages.setdefault(stage, []).append(request["progress"])
    assert list(stages) == [
        "decoding images", "finding identical images", "computing wavelets", "selecting coefficients",
        "finding candidate pairs", "verifying pairs", "completing groups", "grouping", "drawing the map",
        "writing results",
    ]  # fmt: skip
    assert all(shown == sorted(shown) for shown in stages.values())
    assert stages["decoding images"][-1] == stages["verifying pairs"][-1] == 1.0


ANALYSES = ("compute_wavelet_clusters", "compute_ssim_clusters", "compute_split_similarity", "compute_feature_clusters")


def test_the_analysis_forms_offer_ray_and_a_similarity_index_behind_one_box(small_dataset):
    for name in ANALYSES:
        closed = resolve_form(small_dataset, name, {})
        assert closed["scale_out"]["default"] is False and "ray_address" not in closed, name
        opened = resolve_form(small_dataset, name, {"scale_out": True})
        assert opened["ray_address"]["type"]["name"] == "String" and opened["ray_address"].get("default") is None
        if name == "compute_feature_clusters":  # no candidate search to hand to an index
            assert "similarity_backend" not in opened
            continue
        backends = [choice["value"] for choice in opened["similarity_backend"]["view"]["choices"]]
        assert backends[0] == "(none)" and {"sklearn", "lancedb", "milvus", "qdrant"} <= set(backends), name
        assert opened["similarity_backend"]["default"] == "(none)"  # the API's None


def test_asking_for_ray_where_it_is_not_installed_is_refused_with_the_fix(small_dataset, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # as on a machine without the [distributed] extra
    params = {"key": "no_ray", "scale_out": True, "ray_address": "local", "view_target": "DATASET"}
    form = resolve_form(small_dataset, "compute_ssim_clusters", params)
    assert form["ray_address"]["invalid"] is True
    assert "pip install 'fiftyone-redundancy[distributed]'" in form["ray_address"]["error_message"]
    with pytest.raises(ExecutionError, match=r"Ray is not installed here: install the \[distributed\] extra"):
        foo.execute_operator(f"{PLUGIN}/compute_ssim_clusters", ctx=dict(dataset=small_dataset, params=params))
    assert "no_ray" not in fr.list_runs(small_dataset)


def test_feature_forms_say_what_to_install_without_the_features_extra(small_dataset, monkeypatch):
    operator = OperatorRegistry().get_operator(f"{PLUGIN}/compute_feature_clusters")
    extras = sys.modules[type(operator).__module__.rpartition(".operators.")[0] + ".core.extras"]
    monkeypatch.setattr(extras, "missing_features", lambda: ["torch", "hdbscan"])
    for name in ("compute_feature_clusters", "compute_boundary_crossings"):
        properties = resolve_form(small_dataset, name, {})
        notice = properties["features_missing"]
        assert notice["invalid"] is True and list(properties) == ["features_missing"]
        assert "torch, hdbscan not installed here" in notice["view"]["description"]
        assert "pip install 'fiftyone-redundancy[features]'" in notice["view"]["description"]


def stages_seen(analyze):
    """The stage names, in order, a FiftyOne progress callback hears while ``analyse(progress)`` runs."""
    seen = []

    def progress(bar):
        if not seen or seen[-1] != bar.stage:
            seen.append(bar.stage)

    analyze(progress)
    return seen


def test_ssim_split_and_feature_runs_name_each_stage_as_they_go(small_dataset):
    import numpy as np

    ssim = stages_seen(lambda progress: fr.compute_ssim_clusters(small_dataset, image_size=20, progress=progress))
    assert ssim[0] == "decoding images" and ssim[-1] == "writing results"
    assert {"finding identical images", "scoring pairs", "computing the spectrum", "drawing the map"} <= set(ssim)
    split = stages_seen(lambda progress: fr.compute_split_similarity(small_dataset, progress=progress))
    assert split[0] == "decoding images" and split[-2:] == ["scoring pairs", "writing results"]
    small_dataset.set_values("vector", np.random.default_rng(0).normal(size=(len(small_dataset), 8)).tolist())
    features = stages_seen(lambda progress: fr.compute_feature_clusters(small_dataset, embeddings_field="vector", progress=progress))
    assert features[0] == "extracting features" and features[-1] == "writing results"
    assert {"reducing features", "clustering", "choosing representatives", "drawing the map"} <= set(features)


def test_the_feature_form_asks_for_the_checkpoint_or_the_random_weights_box(small_dataset):
    params = {"source": "torchvision", "architecture": "resnet18"}
    form = resolve_form(small_dataset, "compute_feature_clusters", params)
    assert form["model_path"]["required"] is True and "by chance" in form["random_weights"]["view"]["description"]
    ticked = resolve_form(small_dataset, "compute_feature_clusters", {**params, "random_weights": True})
    assert not ticked["model_path"]["required"]


def test_messages_name_an_analysis_in_words_never_its_internal_method_name(small_dataset):
    fr.compute_wavelet_clusters(small_dataset, key="taken", progress=False)
    with pytest.raises(ValueError) as refused:
        fr.compute_split_similarity(small_dataset, key="taken", progress=False)
    assert "holds a run of wavelet clusters" in str(refused.value) and "redundancy." not in str(refused.value)
    form = resolve_form(small_dataset, "compute_ssim_clusters", {"key": "taken"})
    assert "a run of wavelet clusters" in form["key"]["error_message"] and "wavelet_clusters" not in form["key"]["error_message"]


def test_every_form_of_the_plugin_has_a_title(small_dataset):
    """The App shows a form's title above it; a form without one opens as a bare list."""
    untitled = []
    for operator in OperatorRegistry().list_operators():
        if operator.plugin_name != PLUGIN or isinstance(operator, foo.Panel):
            continue
        ctx = ExecutionContext(request_params={"dataset_name": small_dataset.name, "params": {}})
        form = operator.resolve_input(ctx)
        if form is not None and not (form.to_json().get("view") or {}).get("label"):
            untitled.append(operator.config.name)
    assert not untitled, f"forms without a title: {untitled}"
