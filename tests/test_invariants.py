"""A property-based harness (hypothesis, real MongoDB, real image files, fixed seed and
budget): random sequences of public calls on a small dataset that holds the user's own
fields, tags, saved view and files. After every step:

- nothing the plugin did not create has changed: the user's fields (one named like a
  staging field among them), tags (one named like the plugin's), saved view, media files
  and the files the user put beside and inside the export folder, byte for byte;
- every run is whole: its four contract fields and its review view exist, every analysed
  sample has a status, no lease or staging field is left over;
- every error raised is the plugin's own: an expected type, raised from the plugin's code
  (not from deep inside a library), with a message.
"""

import os
import traceback

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from PIL import Image

import fiftyone as fo
import fiftyone_redundancy
import fiftyone_redundancy.api as fr
from fiftyone_redundancy.bridge import runs
from fiftyone_redundancy.core.decisions import STATUSES

pytestmark = pytest.mark.slow

PLUGIN_ROOT = os.path.dirname(os.path.abspath(fiftyone_redundancy.__file__))
PLUGIN_TAGS = {"redundant", "influential", "outlier"}
EXPECTED_ERRORS = (ValueError, FileExistsError, PermissionError, runs.RunInProgressError)
KEYS = ["wave", "wave", "wave", "other", "other", "Wave", "redundancy_staging_x", "_hidden"]

keys = st.sampled_from(KEYS)
STEPS = st.one_of(
    st.tuples(st.just("analyse"), keys, st.sampled_from([0.3, 0.6, 0.9]), st.sampled_from([None, {"n_neighbors": 3}, {"n_neighbour": 3}])),
    st.tuples(st.just("tag"), keys),
    st.tuples(st.just("untag"), keys),
    st.tuples(st.just("recut"), keys, st.sampled_from([0.2, 0.8, None])),
    st.tuples(st.just("export"), keys, st.booleans(), st.sampled_from(["CSV", "FiftyOneDataset", "ImageClassificationDirectoryTree"]), st.sampled_from(["out", "out", "out", "media", "media/inside"])),
    st.tuples(st.just("delete"), keys),
    st.tuples(st.just("rename"), keys, keys),
    st.tuples(st.just("delete_excluded"), keys, st.booleans()),
)  # fmt: skip


def make_world(root):
    """A dataset of six real PNGs (two exact copies among them) with the user's own field,
    a field named like a staging field, a classification with hostile labels, tags (one
    named like the plugin's) and a saved view; and the user's files."""
    rng = np.random.default_rng(0)
    media = root / "media"
    media.mkdir()
    pictures = [rng.integers(0, 255, (32, 32, 3), dtype=np.uint8) for _ in range(4)]
    pictures += [pictures[0], pictures[1]]
    paths = []
    for index, pixels in enumerate(pictures):
        path = media / f"image{index}.png"
        Image.fromarray(pixels).save(path)
        paths.append(str(path))
    (root / "notes.txt").write_text("the user's notes")
    dataset = fo.Dataset()
    labels = ["cat", "../../up", "cat", "=1+1", "cat", "../../up"]
    dataset.add_samples([
        fo.Sample(filepath=path, ground_truth=fo.Classification(label=labels[index]), note=f"n{index}",
                  redundancy_staging_x_status="mine", tags=["mine", "redundant"] if index == 0 else ["mine"])
        for index, path in enumerate(paths)
    ])  # fmt: skip
    dataset.save_view("my_view", dataset.match_tags("mine").limit(3))
    return dataset


def user_state(dataset, root):
    """Everything the plugin did not create (the tags compared as the user's part)."""
    dataset.reload()
    files = {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and (path.parent.name == "media" or path.name.startswith("mine"))
    }
    user_fields = ("filepath", "note", "redundancy_staging_x_status", "ground_truth.label")
    return {
        "fields": {field: dataset.values(field) for field in user_fields},
        "view": dataset._doc.saved_views and [v.view_stages for v in dataset._doc.saved_views if v.name == "my_view"],
        "files": files,
    }


def check_tags(dataset, before_tags):
    for tags, earlier in zip(dataset.values("tags"), before_tags):
        assert set(earlier) <= set(tags), "a tag the user had was removed"
        assert set(tags) - set(earlier) <= PLUGIN_TAGS, "a tag the plugin does not write appeared"


def check_runs_whole(dataset):
    for key in fr.list_runs(dataset):
        schema = dataset.get_field_schema()
        assert all(f"{key}_{suffix}" in schema for suffix in runs.FIELD_TYPES), key
        statuses = set(dataset.exists(f"{key}_status").values(f"{key}_status"))
        assert statuses <= set(STATUSES) and statuses, key
        assert dataset.has_saved_view(runs.review_view_name(key)), key
        fr.load_run(dataset, key).summary()
    assert fr.runs_in_progress(dataset) == {}
    assert runs.stray_staging_fields(dataset, "wave") == runs.stray_staging_fields(dataset, "other") == []


def check_own_error(error):
    assert isinstance(error, EXPECTED_ERRORS), f"{type(error).__name__}: {error}"
    assert str(error), "an error without a message"
    frames = traceback.extract_tb(error.__traceback__)
    assert frames[-1].filename.startswith(PLUGIN_ROOT), f"raised inside {frames[-1].filename}: {error}"


def apply(dataset, root, step):
    action, key, *rest = step
    if action == "analyse":
        threshold, pair_score = rest
        fr.compute_wavelet_clusters(dataset, key=key, threshold=threshold, pair_score=pair_score, image_size=32,
                                    label_field="ground_truth", progress=False)  # fmt: skip
    elif action == "tag":
        fr.tag_samples(dataset, [key])
    elif action == "untag":
        fr.untag_samples(dataset, [key])
    elif action == "recut":
        fr.recut_run(dataset, key, rest[0])
    elif action == "export":
        overwrite, dataset_type, folder = rest
        target = root / folder
        fr.export_curated(dataset, [key], str(target), dataset_type, label_field="ground_truth",
                          export_media=dataset_type == "ImageClassificationDirectoryTree", overwrite=overwrite)  # fmt: skip
        (target / "mine-added-later.txt").write_text("added by the user after the export")
    elif action == "delete":
        fr.delete_run(dataset, key)
    elif action == "rename":
        fr.rename_run(dataset, key, rest[0])
    elif action == "delete_excluded":
        # deleting samples changes the user's data on purpose: only ever refused here
        fr.delete_excluded(dataset, [key], str(root / "mine-manifest.csv"), confirm=rest[0] and "yes")


@settings(max_examples=20, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])  # fmt: skip
@given(steps=st.lists(STEPS, min_size=1, max_size=6))
def test_random_call_sequences_keep_every_invariant(tmp_path_factory, steps):
    root = tmp_path_factory.mktemp("world")
    dataset = make_world(root)
    try:
        before, before_tags = user_state(dataset, root), dataset.values("tags")
        for step in [("analyse", "wave", 0.6, None), *steps]:
            try:
                apply(dataset, root, step)
                event(f"{step[0]} done")
            except Exception as error:  # noqa: BLE001 - every error is judged below
                check_own_error(error)
                event(f"{step[0]} refused: {type(error).__name__}")
            after = user_state(dataset, root)
            for name in ("fields", "view"):
                assert after[name] == before[name], (step, name)
            assert {path: data for path, data in after["files"].items() if path in before["files"]} == before["files"], step
            check_tags(dataset, before_tags)
            check_runs_whole(dataset)
            before = after
    finally:
        dataset.delete()
