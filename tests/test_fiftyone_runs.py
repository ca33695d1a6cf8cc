"""FiftyOne's own run tools keep this plugin's runs whole: ``dataset.delete_run`` and
``dataset.rename_run`` (and the runs operators that call them) remove or move a run's
fields, review view, reviews and map (a brain visualization run, for FiftyOne's
Embeddings panel) as ``fr.delete_run`` / ``fr.rename_run`` do, whether the plugin is an
installed package or only a folder FiftyOne's plugin loader imported; runs stored by
earlier versions keep loading, and a dataset opened without the plugin too."""

import json
import subprocess

import fiftyone.core.runs as fors
import fiftyone.operators as foo
import numpy as np
import pytest

import fiftyone_redundancy as fr
from fiftyone_redundancy.bridge import runs
from fiftyone_redundancy.bridge.run_hooks import CLASS_PATH

pytestmark = pytest.mark.slow

RUNS_OPERATORS = "@redundancy-tests/runs"


@pytest.fixture(scope="module")
def analyzed_source(small_demo_dataset):
    dataset = small_demo_dataset.clone()
    fr.compute_wavelet_clusters(dataset, label_field="ground_truth", key="run", progress=False)
    yield dataset
    dataset.delete()


@pytest.fixture
def analyzed(analyzed_source):
    """A copy of a dataset with a wavelet run ``run`` (its fields, record and review view
    copied with it), and one review of the run's pairs."""
    dataset = analyzed_source.clone()
    first, second = fr.load_run(dataset, "run").groups_view().limit(2).values("id")
    fr.review_pair(dataset, "run", first, second, "same")
    yield dataset
    dataset.delete()


def written(dataset, key):
    return {name: dataset.values(name) for name in fr.load_run(dataset, key).fields}


def plugin_traces(dataset, key):
    """Whatever of run ``key`` is left on ``dataset``: fields, review view, map, reviews, leases."""
    return {
        "fields": sorted(name for name in dataset.get_field_schema() if name.startswith(f"{key}_")),
        "views": [name for name in dataset.list_saved_views() if name == runs.review_view_name(key)],
        "maps": [name for name in dataset.list_brain_runs() if name == runs.map_brain_key(key)],
        "reviews": runs.contract._reviews().count_documents({"dataset_id": str(dataset._doc.id), "key": key}),
        "leases": runs.contract._leases().count_documents({"dataset_id": str(dataset._doc.id)}),
    }


NOTHING = {"fields": [], "views": [], "maps": [], "reviews": 0, "leases": 0}


def test_runs_are_stored_with_the_class_whose_hooks_fiftyone_calls(analyzed):
    run = fr.load_run(analyzed, "run")
    assert analyzed._doc.runs["run"].config["cls"] == CLASS_PATH
    assert isinstance(analyzed.get_run_info("run").config, fors.RunConfig)
    assert run.version == fr.__version__
    assert analyzed.load_run_view("run", select_fields=True).get_field_schema().keys() >= set(run.fields)


def test_the_map_is_in_fiftyones_embeddings_panel_as_a_visualization_run(analyzed):
    """The Embeddings panel lists the brain runs of type visualization."""
    run = fr.load_run(analyzed, "run")
    assert analyzed.list_brain_runs(type="visualization") == ["run_map"]
    shown = analyzed.load_brain_results("run_map")
    row_of = {sample_id: row for row, sample_id in enumerate(run.details["sample_ids"])}
    rows = [row_of[sample_id] for sample_id in analyzed.exists("run_status").values("id")]
    np.testing.assert_allclose(shown.points, np.asarray(run.details["points"])[rows])


def test_a_brain_run_the_plugin_did_not_store_is_never_replaced(analyzed):
    import fiftyone.brain as fob

    fr.delete_run(analyzed, "run")
    fob.compute_visualization(analyzed, points=np.zeros((len(analyzed), 2)), brain_key="run_map", progress=False)
    with pytest.raises(ValueError, match="brain run 'run_map' .* was not created by this plugin"):
        runs.validate_key(analyzed, "run", "wavelet_clusters")
    assert analyzed.list_brain_runs() == ["run_map"]


def test_deleting_through_fiftyone_removes_what_the_run_owns(analyzed):
    analyzed.delete_run("run")
    assert analyzed.list_runs() == [] and plugin_traces(analyzed, "run") == NOTHING
    runs.validate_key(analyzed, "run", "wavelet_clusters")  # the key is free again


def test_renaming_through_fiftyone_moves_what_the_run_owns(analyzed):
    values = written(analyzed, "run")
    groups = fr.load_run(analyzed, "run").groups_view().values("id")
    analyzed.rename_run("run", "renamed")
    assert analyzed.list_runs() == ["renamed"] and plugin_traces(analyzed, "run") == NOTHING
    assert fr.load_run(analyzed, "renamed").groups_view().values("id") == groups
    assert written(analyzed, "renamed") == {name.replace("run", "renamed", 1): value for name, value in values.items()}
    assert plugin_traces(analyzed, "renamed") == {**NOTHING, "fields": sorted(written(analyzed, "renamed")),
                                                  "views": ["renamed-review"], "maps": ["renamed_map"], "reviews": 1}  # fmt: skip
    assert len(analyzed.load_brain_results("renamed_map").points) == len(analyzed)


def test_the_runs_operators_rename_and_delete_as_fr_does(analyzed):
    renamed = foo.execute_operator(f"{RUNS_OPERATORS}/rename_run", ctx=dict(
        dataset=analyzed, params={"run_key": "run", "new_run_key": "run2"}))  # fmt: skip
    assert renamed.error is None, renamed.error
    analyzed.reload()
    assert fr.list_runs(analyzed) == ["run2"] and len(fr.load_run(analyzed, "run2").groups_view()) > 0
    assert plugin_traces(analyzed, "run2")["reviews"] == 1
    deleted = foo.execute_operator(f"{RUNS_OPERATORS}/delete_run", ctx=dict(dataset=analyzed, params={"run_key": "run2"}))
    assert deleted.error is None, deleted.error
    analyzed.reload()
    assert analyzed.list_runs() == [] and plugin_traces(analyzed, "run2") == NOTHING


def test_a_run_stored_by_an_earlier_version_keeps_loading(analyzed):
    run = fr.load_run(analyzed, "run")
    # as 0.1.0 stored it: FiftyOne's base RunConfig, and no version in the results
    analyzed.update_run_config("run", analyzed.init_run(method=f"redundancy.{run.method}", **run.parameters))
    runs.update_results(analyzed, "run", lambda results: delattr(results, "version"))
    old = fr.load_run(analyzed, "run")
    assert old.version is None and old.counts == run.counts and old.parameters == run.parameters
    fr.rename_run(analyzed, "run", "renewed")  # stored again, with this version's class
    assert analyzed._doc.runs["renewed"].config["cls"] == CLASS_PATH
    analyzed.delete_run("renewed")
    assert plugin_traces(analyzed, "renewed") == NOTHING


IN_A_PLUGIN_PROCESS = """
import json, sys
import fiftyone as fo, fiftyone.operators as foo
assert "fiftyone_redundancy" not in sys.modules
foo.list_operators()  # FiftyOne's plugin loader imports the plugin under a name of its own
dataset = fo.load_dataset(sys.argv[1])
dataset.rename_run("run", "moved")
renamed = sorted(name for name in dataset.get_field_schema() if name.startswith(("run_", "moved_")))
dataset.delete_run("moved")
left = sorted(name for name in dataset.get_field_schema() if name.startswith(("run_", "moved_")))
print(json.dumps({"renamed": renamed, "left": left, "views": dataset.list_saved_views(), "runs": dataset.list_runs()}))
"""


def test_the_hooks_run_where_only_fiftyones_plugin_loader_imported_the_plugin(analyzed, python_without):
    """As after ``fiftyone plugins download``: no package to import, the plugin folder
    under FiftyOne's plugins directory."""
    fields = fr.load_run(analyzed, "run").fields
    command, env = python_without(with_package=False)
    result = subprocess.run([*command, "-c", IN_A_PLUGIN_PROCESS, analyzed.name], capture_output=True,
                            text=True, env=env, timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout.splitlines()[-1])
    assert outcome["renamed"] == sorted(name.replace("run", "moved", 1) for name in fields)
    assert outcome == {**outcome, "left": [], "views": [], "runs": []}
    analyzed.reload()
    assert plugin_traces(analyzed, "moved") == NOTHING


WITHOUT_THE_PLUGIN = """
import json, sys
import fiftyone as fo
dataset = fo.load_dataset(sys.argv[1])
info = dataset.get_run_info("run")
results = dataset.load_run_results("run")
print(json.dumps({"runs": dataset.list_runs(), "method": info.config.method, "class": type(info.config).__name__,
                  "counts": results.counts, "samples": len(dataset.exists("run_status"))}))
"""


def test_a_dataset_opened_without_the_plugin_loads_its_runs(analyzed, python_without, tmp_path):
    run = fr.load_run(analyzed, "run")
    command, env = python_without(with_package=False)
    env["FIFTYONE_PLUGINS_DIR"] = str(tmp_path)  # no plugin at all
    result = subprocess.run([*command, "-c", WITHOUT_THE_PLUGIN, analyzed.name], capture_output=True,
                            text=True, env=env, timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout.splitlines()[-1])
    assert outcome == {"runs": ["run"], "method": f"redundancy.{run.method}", "class": "RunConfig",
                       "counts": run.counts, "samples": len(analyzed)}  # fmt: skip
    assert "falling back to base class" in result.stdout + result.stderr  # FiftyOne's word for it
