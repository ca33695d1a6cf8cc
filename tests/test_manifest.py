"""One version and one list of requirements, however the plugin is installed: the
manifest (``fiftyone.yml``), the package (``pyproject.toml``), ``requirements.txt`` (what
``fiftyone plugins requirements --install`` installs), the changelog and the code agree;
the secrets the manifest lists are real settings of the similarity indexes the Scale out
box offers, and reach them."""

import ast
import importlib.util
import os
import re
import tomllib

import yaml
from packaging.requirements import Requirement

import fiftyone_redundancy as fr
from fiftyone_redundancy.core.extras import FEATURES

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read(name):
    with open(os.path.join(ROOT, name)) as handle:
        return handle.read()


MANIFEST = yaml.safe_load(read("fiftyone.yml"))
PROJECT = tomllib.loads(read("pyproject.toml"))["project"]


def requirements(lines):
    return {Requirement(line).name.lower(): str(Requirement(line).specifier) for line in lines}


def test_manifest_package_changelog_and_code_state_one_version():
    latest = re.search(r"^## (\S+)", read("CHANGELOG.md"), re.MULTILINE).group(1)
    assert MANIFEST["version"] == PROJECT["version"] == latest == fr.__version__


def test_manifest_and_package_start_the_fiftyone_range_at_the_oldest_version_tested():
    tested = Requirement("fiftyone" + MANIFEST["fiftyone"]["version"]).specifier
    (oldest,) = [spec.version for spec in tested if spec.operator == ">="]
    assert {spec.operator for spec in tested} == {">=", "<"}  # the newest tested caps it
    assert requirements(PROJECT["dependencies"])["fiftyone"] == f">={oldest}"
    assert f"OLDEST={oldest}.0" in read("scripts/test_install.sh")


def test_requirements_txt_is_the_package_dependencies_without_fiftyone():
    lines = [line for line in read("requirements.txt").splitlines() if line.strip() and not line.startswith("#")]
    expected = {name: spec for name, spec in requirements(PROJECT["dependencies"]).items() if name != "fiftyone"}
    assert requirements(lines) == expected
    assert not set(expected) & {package.lower() for package in FEATURES.values()}  # torch and co. stay optional


def test_the_features_extra_brings_what_feature_maps_check_for():
    assert set(requirements(PROJECT["optional-dependencies"]["features"])) == set(FEATURES.values())


def test_the_manifest_says_what_the_plugin_index_shows():
    assert MANIFEST["author"] and MANIFEST["license"] and MANIFEST["url"]
    assert "curation" in MANIFEST["tags"] and "near-duplicates" in MANIFEST["tags"]


def config_arguments(class_path):
    """The ``__init__`` arguments of a brain backend's config class, read from its source
    (importing the module would import the backend's client, not installed here)."""
    module, name = class_path.rsplit(".", 1)
    tree = ast.parse(open(importlib.util.find_spec(module).origin).read())
    (config,) = [node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == name]
    (init,) = [node for node in config.body if isinstance(node, ast.FunctionDef) and node.name == "__init__"]
    return {argument.arg for argument in init.args.args + init.args.kwonlyargs}


def test_each_secret_is_a_setting_of_a_similarity_backend_fiftyone_brain_offers():
    import fiftyone.brain as fob

    backends = fob.brain_config.similarity_backends
    for secret in MANIFEST["secrets"]:
        backend, setting = re.fullmatch(r"FIFTYONE_BRAIN_SIMILARITY_([A-Z]+)_([A-Z_]+)", secret).groups()
        assert setting.lower() in config_arguments(backends[backend.lower()]["config_cls"]), secret


def test_a_chosen_backends_secrets_become_its_settings(monkeypatch):
    from fiftyone.operators.executor import ExecutionContext
    from fiftyone_redundancy.operators.forms import SCALE_OUT, scale_out_params

    monkeypatch.setenv("FIFTYONE_BRAIN_SIMILARITY_QDRANT_URL", "http://qdrant.internal:6333")
    monkeypatch.setenv("FIFTYONE_BRAIN_SIMILARITY_QDRANT_API_KEY", "k3y")
    monkeypatch.setenv("FIFTYONE_BRAIN_SIMILARITY_MILVUS_URI", "http://milvus.internal:19530")
    params = {SCALE_OUT: True, "similarity_backend": "qdrant"}
    ctx = ExecutionContext(request_params={"params": params}, operator_uri="@fiftyone-redundancy/redundancy/compute_wavelet_clusters",
                           required_secrets=MANIFEST["secrets"])  # fmt: skip
    assert scale_out_params(ctx, fr.compute_wavelet_clusters) == {
        "similarity_backend": "qdrant",
        "similarity_config": {"url": "http://qdrant.internal:6333", "api_key": "k3y"},
    }
