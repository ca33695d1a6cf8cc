"""The end of scripts/test_install.sh, run inside each of its throwaway environments (only
FiftyOne and what the install brought): the plugin FiftyOne loaded registers every
operator and panel its manifest lists, without torch; an analysis runs through its
operator on real photographs with planted copies and finds each copy; its map is in
FiftyOne's Embeddings panel list; each panel loads; and FiftyOne's own rename_run and
delete_run keep the run whole. Prints what it checked; exits non-zero at the first
failure.

    python scripts/install_check.py [--python-api]

``--python-api``: also ``import fiftyone_redundancy`` (the pip route installs the package).
"""

import argparse
import importlib.util
import os
import sys
import tempfile
import time

PLUGIN = "@fiftyone-redundancy/redundancy"
PHOTOS = ("astronaut", "camera", "coffee", "chelsea", "rocket", "coins", "clock", "page", "brick", "gravel",
          "moon", "retina", "cell", "colorwheel", "hubble_deep_field", "immunohistochemistry")  # fmt: skip
COPIED = PHOTOS[:6]


def photographs_with_copies(folder):
    """scikit-image's photographs (a FiftyOne dependency, offline) as files, and of six of
    them a copy: re-encoded as JPEG, cropped by 8% and scaled back, or brightened."""
    import numpy as np
    from PIL import Image, ImageEnhance
    from skimage import data

    samples = []
    for name in PHOTOS:
        image = Image.fromarray(np.asarray(getattr(data, name)())).convert("RGB")
        path = os.path.join(folder, f"{name}.png")
        image.save(path)
        samples.append((path, name, "original"))
        if name in COPIED:
            width, height = image.size
            edits = {
                "jpeg": lambda im: im,
                "crop": lambda im: im.crop((width // 25, height // 25, width - width // 25, height - height // 25)).resize(im.size),
                "bright": lambda im: ImageEnhance.Brightness(im).enhance(1.15),
            }  # fmt: skip
            edit = list(edits)[COPIED.index(name) % 3]
            path = os.path.join(folder, f"{name}-{edit}.jpg")
            edits[edit](image).save(path, quality=80)
            samples.append((path, name, edit))
    return samples


def check(condition, what):
    if not condition:
        raise SystemExit(f"FAILED: {what}")
    print(f"ok: {what}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python-api", action="store_true")
    args = parser.parse_args()
    started = time.perf_counter()

    import fiftyone as fo
    import fiftyone.operators as foo
    import fiftyone.plugins as fop
    import yaml

    print(f"fiftyone {fo.__version__}, Python {sys.version.split()[0]}")
    (plugin,) = [plugin for plugin in fop.list_plugins() if plugin.name == PLUGIN]
    with open(os.path.join(plugin.directory, "fiftyone.yml")) as handle:
        manifest = yaml.safe_load(handle)
    registered = {operator.name for operator in foo.list_operators() if operator.plugin_name == PLUGIN}
    listed = set(manifest["operators"]) | set(manifest["panels"])
    check(registered == listed, f"{PLUGIN} {manifest['version']} from {plugin.directory}: all {len(listed)} operators and panels registered")
    check(importlib.util.find_spec("torch") is None, "torch is not installed here")

    dataset = fo.Dataset()
    folder = tempfile.mkdtemp(prefix="install-check-")
    dataset.add_samples([
        fo.Sample(filepath=path, photo=name, edit=edit) for path, name, edit in photographs_with_copies(folder)
    ])  # fmt: skip
    result = foo.execute_operator(f"{PLUGIN}/compute_wavelet_clusters",
                                  ctx=dict(dataset=dataset, params={"key": "wavelet", "view_target": "DATASET"}))  # fmt: skip
    check(result.error is None, f"the wavelet-cluster operator ran on {len(dataset)} images ({result.error})")
    dataset.reload()
    groups = {}
    for photo, group in zip(dataset.values("photo"), dataset.values("wavelet_group")):
        groups.setdefault(photo, set()).add(group)
    found = [photo for photo in COPIED if len(groups[photo]) == 1 and -1 not in groups[photo]]
    check(found == list(COPIED), f"each of the {len(COPIED)} copies grouped with its original (found {found})")
    others = [photo for photo in PHOTOS if photo not in COPIED and groups[photo] != {-1}]
    check(not others, f"no photograph without a copy is grouped ({others})")
    check("torch" not in sys.modules, "the analysis ran without importing torch")
    check(dataset.list_brain_runs(type="visualization") == ["wavelet_map"], "its map is a visualization run for FiftyOne's Embeddings panel")
    for panel in manifest["panels"]:
        loaded = foo.execute_operator(f"{PLUGIN}/{panel}", ctx=dict(
            dataset=dataset, params={"__method__": "on_load", "panel_id": "p1", "panel_state": {}}))  # fmt: skip
        check(loaded.error is None, f"panel {panel} loads ({loaded.error})")
    if args.python_api:
        import fiftyone_redundancy as fr

        run = fr.load_run(dataset, "wavelet")
        check(run.version == fr.__version__ == manifest["version"], f"the Python API reads the run ({run.counts})")

    fields = sorted(name for name in dataset.get_field_schema() if name.startswith("wavelet_"))
    dataset.rename_run("wavelet", "renamed")
    moved = sorted(name for name in dataset.get_field_schema() if name.startswith(("wavelet_", "renamed_")))
    check(moved == sorted(name.replace("wavelet", "renamed", 1) for name in fields)
          and dataset.list_saved_views() == ["renamed-review"] and dataset.list_brain_runs() == ["renamed_map"],
          "FiftyOne's rename_run moved the run's fields, review view and map")  # fmt: skip
    dataset.delete_run("renamed")
    left = [name for name in dataset.get_field_schema() if name.startswith("renamed_")]
    check(not left and not dataset.list_saved_views() and not dataset.list_brain_runs() and not dataset.list_runs(),
          "FiftyOne's delete_run removed the run's fields, review view and map")  # fmt: skip
    dataset.delete()
    print(f"install check passed in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
