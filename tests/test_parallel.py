"""The functions that run as Ray tasks travel by value when FiftyOne's plugin loader
imported the package under a name no Ray worker can import (``core.parallel``). Each
task, pickled with real inputs the way ``RayExecutor`` sends it, loads and runs in a fresh
interpreter where that name does not exist, and gives this process's result. (A
``functools.cache`` reached from a task once travelled by name and broke every operator
run on Ray.)"""

import importlib
import importlib.util
import os
import pickle
import subprocess
import sys
import types

import numpy as np
import pytest

import fiftyone_redundancy

cloudpickle = pytest.importorskip("ray.cloudpickle", reason="the [distributed] extra installs ray")

PLUGIN_NAME = "fiftyone.plugins.orgs.redundancy_probe"
"""A name like the one FiftyOne's plugin loader gives the package."""

RUN_IN_FRESH_PYTHON = """
import pickle, sys
import ray.cloudpickle
function, task = ray.cloudpickle.loads(open(sys.argv[1], "rb").read())
assert not any(name.startswith("fiftyone.plugins.orgs") for name in sys.modules if "redundancy_probe" not in name)
pickle.dump(function(task), open(sys.argv[2], "wb"))
"""


@pytest.fixture(scope="module")
def plugin_copy():
    """The package imported a second time under ``PLUGIN_NAME``, and registered to travel
    by value as ``RayExecutor`` registers it."""
    root = os.path.dirname(fiftyone_redundancy.__file__)
    parent = PLUGIN_NAME.rpartition(".")[0]
    sys.modules.setdefault(parent, types.ModuleType(parent)).__path__ = []
    spec = importlib.util.spec_from_file_location(PLUGIN_NAME, os.path.join(root, "__init__.py"),
                                                  submodule_search_locations=[root])  # fmt: skip
    package = importlib.util.module_from_spec(spec)
    sys.modules[PLUGIN_NAME] = package
    spec.loader.exec_module(package)
    cloudpickle.register_pickle_by_value(package)
    yield lambda name: importlib.import_module(f"{PLUGIN_NAME}.{name}")
    cloudpickle.unregister_pickle_by_value(package)
    for name in [name for name in sys.modules if name == PLUGIN_NAME or name.startswith(PLUGIN_NAME + ".")]:
        del sys.modules[name]


def run_elsewhere(tmp_path, function, task):
    """``function(task)`` in a fresh interpreter that received both by ``ray.cloudpickle``."""
    sent, answer = tmp_path / "task.pickle", tmp_path / "answer.pickle"
    sent.write_bytes(cloudpickle.dumps((function, task)))
    environment = {**os.environ, "PYTHONPATH": ""}
    done = subprocess.run([sys.executable, "-c", RUN_IN_FRESH_PYTHON, str(sent), str(answer)],
                          capture_output=True, text=True, env=environment, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return pickle.loads(answer.read_bytes())


@pytest.fixture(scope="module")
def image_paths(small_demo_dataset):
    return small_demo_dataset.values("filepath")[:24]


def test_a_decoding_task_runs_where_the_plugin_cannot_be_imported(plugin_copy, image_paths, tmp_path):
    images = plugin_copy("core.images")
    task = (image_paths, (32, 32), "rgb", 1, True)
    here_images, here_failures, _ = images._decode_task(task)
    there_images, there_failures, _ = run_elsewhere(tmp_path, images._decode_task, task)
    assert here_images.shape == (24, 32, 32, 3) and not here_failures
    np.testing.assert_array_equal(there_images, here_images)
    assert there_failures == here_failures


def test_pair_verification_tasks_run_where_the_plugin_cannot_be_imported(plugin_copy, image_paths, tmp_path):
    images_module, shards = plugin_copy("core.images"), plugin_copy("core.pair_score.shards")
    images = images_module.load_images(image_paths, (32, 32), "rgb", 1)
    parameters = plugin_copy("core.pair_score").PairScoreParameters()
    side = shards.shard_side(images, parameters)
    first, second = np.arange(0, 12), np.arange(12, 24)
    task = (parameters, side.rows(np.arange(24)), None, first, second)
    here, _ = shards._score_shard(task)
    there, _ = run_elsewhere(tmp_path, shards._score_shard, task)
    np.testing.assert_allclose(there, here, rtol=1e-6)
    same = np.arange(12)  # each image against itself scores the top of the scale
    across = (parameters, side.rows(same), side.rows(same), same, same)
    here_scores, _ = shards._score_shard(across)
    there_scores, _ = run_elsewhere(tmp_path, shards._score_shard, across)
    np.testing.assert_allclose(there_scores, here_scores, rtol=1e-6)
    assert here_scores.min() > 0.99


def test_the_feature_task_travels_by_value(plugin_copy):
    """Feature extraction needs a model in the payload; its function must at least arrive
    without importing the plugin by name (found by ``pickle``'s own module lookup)."""
    features = plugin_copy("core.features")
    code = "import sys, ray.cloudpickle; ray.cloudpickle.loads(sys.stdin.buffer.read())"
    done = subprocess.run([sys.executable, "-c", code], input=cloudpickle.dumps(features._extract_task),
                          capture_output=True, env={**os.environ, "PYTHONPATH": ""}, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()[-3000:]
