"""The layers import one way: core/ (arrays only) never imports FiftyOne or any layer above
it; bridge/ (FiftyOne) never imports the App's layers (operators/, panels/); the App's
layers stand on the bridge alone (never core/, never each other)."""

import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = "fiftyone_redundancy"
FORBIDDEN = {
    "core": {"fiftyone", "bridge", "operators", "panels", "api", "demo", "demo_data"},
    "bridge": {"operators", "panels", "demo"},
    "operators": {"core", "panels", "demo"},
    "panels": {"core", "operators", "demo"},
}


def imported_names(path, package):
    """Every module a file imports, relative imports resolved from ``package`` (the file's
    folder as a list of names below the package root: ``["core"]``)."""
    tree = ast.parse(open(path).read(), path)
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                names.append(node.module)
            else:
                base = package[: len(package) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
                names += [module] if node.module else [f"{module}.{alias.name}" for alias in node.names]
    return names


def layer_files(layer):
    """(path, package) of every Python file of a layer."""
    for folder, _, files in os.walk(os.path.join(ROOT, layer)):
        package = os.path.relpath(folder, ROOT).split(os.sep)
        yield from ((os.path.join(folder, name), package) for name in sorted(files) if name.endswith(".py"))


def top_of(name):
    """The layer or library a module name belongs to ("bridge", "fiftyone", "numpy", ...)."""
    parts = name.split(".")
    if parts[0] == PACKAGE:
        parts = parts[1:] or [PACKAGE]
    return parts[0]


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_each_layer_imports_only_what_lies_below_it(layer):
    offending = [
        f"{os.path.relpath(path, ROOT)} imports {name}"
        for path, package in layer_files(layer)
        for name in imported_names(path, package)
        if top_of(name) in FORBIDDEN[layer]
    ]
    assert not offending, "\n".join(offending)


def test_the_check_sees_a_forbidden_import(tmp_path):
    """The rule catches both spellings of an import that goes the wrong way."""
    folder = tmp_path / "core"
    folder.mkdir()
    (folder / "bad.py").write_text("import fiftyone.core.view\nfrom ..bridge import runs\nfrom . import grouping\n")
    names = [top_of(name) for name in imported_names(str(folder / "bad.py"), ["core"])]
    assert names == ["fiftyone", "bridge", "core"]  # the last is allowed: its own layer


def test_the_wheel_lists_every_package_of_the_plugin():
    """pyproject.toml names the packages a wheel holds one by one (the repository root is
    the package): a folder of modules it leaves out is missing from every pip install."""
    import tomllib

    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as handle:
        listed = set(tomllib.load(handle)["tool"]["setuptools"]["packages"])
    found = {PACKAGE}
    for layer in ("core", "bridge", "operators", "panels"):
        for folder, _, files in os.walk(os.path.join(ROOT, layer)):
            if "__init__.py" in files:
                found.add(".".join([PACKAGE, *os.path.relpath(folder, ROOT).split(os.sep)]))
    assert found == listed, f"missing from pyproject.toml: {sorted(found - listed)}; not packages: {sorted(listed - found)}"
