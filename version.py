"""The plugin's version: the one ``fiftyone.yml`` declares, which ships with it either way
it is installed (``pyproject.toml`` and ``CHANGELOG.md`` state the same number, and
``tests/test_version.py`` checks they agree). Every run records the version that wrote it."""

import os

import yaml

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "fiftyone.yml")) as manifest:
    VERSION = str(yaml.safe_load(manifest)["version"])
