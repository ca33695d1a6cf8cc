"""Safe by construction (issue 25): the plugin deletes only what its own durable record
names, runs no code from a file unasked, writes nothing outside the folder it is given,
and answers every bad input in its own words before any work. Real MongoDB, real files.

The catalogue (input -> what happens); the classes looked for: folders shared with the
user or the dataset's media, names that are paths, cells that are formulas, internal
names a user can reach, files that are code, files that are not files, two snapshots of
one decision, and arguments of the wrong name, type or kind:

- an export replacing an earlier one while the user added files (top level and inside
  its data folder) -> only the files the earlier record lists are replaced; a user file
  where the new export would write -> refused, nothing changed; a record listing
  ``../x`` or an absolute path -> nothing outside deleted; an earlier version's export
  without a file list -> refused (4)
- export into the media folder, a folder inside it, a folder above it, a link to it ->
  refused before writing (4)
- directory-tree labels ``../../x``, ``/tmp/x``, ``a/b``, ``.``, ``..``, a backslash, a tab,
  a newline, blanks, a formula, 300 characters, ``C:x``, and one clashing with another's
  safe name -> safe, distinct folders inside the export; the naming rule (2)
- cells starting with ``= + - @``, a tab, a carriage return in labels.csv and
  excluded.csv -> escaped with ``'``, scores stay numbers (2)
- a killed export's staging folder -> removed when its record names it and its process
  is dead; a look-alike folder and a live export's folder -> kept (1)
- run keys in the staging namespace (any case) -> refused; a user's fields named like
  staging fields -> kept through runs, listing and deletion (4)
- a crafted pickle that writes a file when loaded -> refused, no code ran; a pickled
  model -> only with trust_model_file=True, TorchScript and state dicts without; the
  App form offers the flag with a warning (3)
- a named pipe, a character device, a folder as filepath -> ImageReadError before
  opening, skippable (3)
- an image still reading after the time bound -> named, skippable; every reading thread
  stuck -> refused; a cancel while an image reads -> heard before it ends (2)
- delete_excluded while another writer holds the run -> refused, no manifest; a re-cut
  after the manifest -> the manifest's samples alone deleted (2)
- mistyped pair_score keys (2), None in pair_score, a list as pair_score, unknown
  similarity_config keys (2), similarity_config without backend, threshold None (8)
- review_pair with a string time, a string score, a NaN score, an id of no sample, an
  int id (4)
- review CSVs: a UTF-8 BOM -> read; a short row, Latin-1 bytes, a 200,000-character
  field, an infinite score, a bad time, no header -> refused naming the line, nothing
  recorded; files sharing only a name -> unmatched (8)
- a view where a dataset is expected (list, tag, delete, rename, load, export) (6)
- a directory tree without media, a string export_media, an empty or None export_dir (4)
- a curated view saved under a run's review view name or its slug -> refused (2)
- a kill between tagging and recording the tags -> the tags were recorded first, so
  untag_samples removes them (1)
"""

import csv
import json
import os
import subprocess
import sys

import pytest

import fiftyone as fo
import fiftyone.core.odm as foo
import fiftyone_redundancy.api as fr
from fiftyone_redundancy.bridge import curation



@pytest.fixture
def analyzed(small_dataset):
    fr.compute_wavelet_clusters(small_dataset, label_field="ground_truth", key="wavelet", progress=False)
    return small_dataset


def folder_state(folder):
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def dead_pid():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


# --- exports ---------------------------------------------------------------------------


def test_replacing_an_export_keeps_the_files_the_user_added(analyzed, tmp_path):
    folder = tmp_path / "out"
    fr.export_curated(analyzed, ["wavelet"], str(folder), "FiftyOneDataset")
    (folder / "notes.txt").write_text("my notes")
    (folder / "data" / "checkpoint.pt").write_bytes(b"weights")
    fr.export_curated(analyzed, ["wavelet"], str(folder), "CSV", label_field="ground_truth", overwrite=True)
    state = folder_state(folder)
    assert sorted(state) == ["data/checkpoint.pt", "excluded.csv", "labels.csv", "notes.txt", "redundancy-export.json"]
    assert state["notes.txt"] == b"my notes" and state["data/checkpoint.pt"] == b"weights"
    record = json.loads(state["redundancy-export.json"])
    assert record["files"] == ["excluded.csv", "labels.csv", "redundancy-export.json"]
    assert os.listdir(tmp_path) == ["out"]


def test_an_export_never_replaces_a_user_file_it_would_overwrite(analyzed, tmp_path):
    folder = tmp_path / "out"
    fr.export_curated(analyzed, ["wavelet"], str(folder), "FiftyOneDataset", export_media=False)
    (folder / "labels.csv").write_text("mine")
    before = folder_state(folder)
    with pytest.raises(curation.ExportRefused, match="labels.csv, which no export of this plugin wrote"):
        fr.export_curated(analyzed, ["wavelet"], str(folder), "CSV", label_field="ground_truth", overwrite=True)
    assert folder_state(folder) == before and os.listdir(tmp_path) == ["out"]


def test_a_record_listing_paths_outside_its_folder_deletes_none_of_them(analyzed, tmp_path):
    folder = tmp_path / "out"
    fr.export_curated(analyzed, ["wavelet"], str(folder), "CSV", label_field="ground_truth")
    outside = tmp_path / "precious.txt"
    outside.write_text("keep")
    record_path = folder / "redundancy-export.json"
    record = json.loads(record_path.read_text())
    record["files"] += ["../precious.txt", str(outside)]
    record_path.write_text(json.dumps(record))
    fr.export_curated(analyzed, ["wavelet"], str(folder), "CSV", label_field="ground_truth", overwrite=True)
    assert outside.read_text() == "keep"


def test_an_export_by_an_earlier_version_without_a_file_list_is_not_replaced(analyzed, tmp_path):
    folder = tmp_path / "out"
    fr.export_curated(analyzed, ["wavelet"], str(folder), "CSV", label_field="ground_truth")
    record_path = folder / "redundancy-export.json"
    record = json.loads(record_path.read_text())
    del record["files"]
    record_path.write_text(json.dumps(record))
    before = folder_state(folder)
    with pytest.raises(curation.ExportRefused, match="did not record the files it wrote"):
        fr.export_curated(analyzed, ["wavelet"], str(folder), "CSV", label_field="ground_truth", overwrite=True)
    assert folder_state(folder) == before


@pytest.mark.parametrize("where", ["media", "inside", "above"])
def test_a_folder_holding_or_inside_the_media_is_refused_before_writing(analyzed, where):
    media = os.path.dirname(analyzed.first().filepath)
    target = {"media": media, "inside": os.path.join(media, "curated"), "above": os.path.dirname(media)}[where]
    before = sorted(os.listdir(os.path.dirname(media)))
    with pytest.raises(curation.ExportRefused, match="media"):
        fr.export_curated(analyzed, ["wavelet"], target, overwrite=True)
    assert sorted(os.listdir(os.path.dirname(media))) == before and not os.path.exists(os.path.join(media, "curated"))


def test_a_link_to_the_media_folder_is_refused_too(analyzed, tmp_path):
    link = tmp_path / "link"
    link.symlink_to(os.path.dirname(analyzed.first().filepath))
    with pytest.raises(curation.ExportRefused, match="holds media files"):
        fr.export_curated(analyzed, ["wavelet"], str(link), overwrite=True)


HOSTILE_LABELS = ["../../escaped", "/tmp/absolute", "a/b", "..", ".", "back\\slash", "tab\there",
                  "new\nline", "   ", "=HYPERLINK(\"x\")", "x" * 300, "C:evil", "a_b"]  # fmt: skip


def test_directory_tree_labels_become_safe_folder_names(analyzed, tmp_path):
    labels = [HOSTILE_LABELS[i % len(HOSTILE_LABELS)] for i in range(len(analyzed))]
    analyzed.set_values("ground_truth.label", labels)
    folder = tmp_path / "deep" / "out"
    fr.export_curated(analyzed, ["wavelet"], str(folder), "ImageClassificationDirectoryTree", label_field="ground_truth")
    assert sorted(os.listdir(tmp_path)) == ["deep"] and sorted(os.listdir(tmp_path / "deep")) == ["out"]
    folders = [entry for entry in os.listdir(folder) if (folder / entry).is_dir()]
    assert all(name not in (".", "..") and "/" not in name and "\\" not in name and len(name) <= 200 for name in folders)
    assert all(char.isprintable() for name in folders for char in name)
    assert len(folders) == len(set(folders)) == len(set(analyzed.match(fr.curated_view(analyzed, ["wavelet"])._stages[0]._filter).values("ground_truth.label")))
    record = json.loads((folder / "redundancy-export.json").read_text())
    assert record["label_folders"]["../../escaped"] == "_.._escaped" and "a_b" not in record["label_folders"]
    assert record["label_folders"]["a/b"] == "a_b_2"  # a user's own label keeps its name
    assert not os.path.exists("/tmp/absolute") or not os.listdir("/tmp/absolute")


def test_the_safe_folder_name_rule():
    assert curation.safe_folder_name("../../x") == "_.._x"
    assert curation.safe_folder_name("..") == "_" and curation.safe_folder_name(" ") == "_"
    assert curation.safe_folder_name("\x00\x1b[31m") == "__[31m"
    assert curation.safe_folder_name("chat noir") == "chat noir" and curation.safe_folder_name("猫") == "猫"


@pytest.mark.parametrize("dataset_type,csv_name", [("CSV", "labels.csv"), ("FiftyOneDataset", "excluded.csv")])
def test_csv_cells_that_a_spreadsheet_would_run_are_escaped(analyzed, tmp_path, dataset_type, csv_name):
    formulas = ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\tx", "\rx"]
    analyzed.set_values("ground_truth.label", [formulas[i % len(formulas)] for i in range(len(analyzed))])
    folder = tmp_path / "out"
    fr.export_curated(analyzed, ["wavelet"], str(folder), dataset_type, label_field="ground_truth", export_media=False)
    with open(folder / csv_name, newline="") as handle:
        rows = list(csv.reader(handle))[1:]
    column = 1
    assert rows and all(row[column].startswith("'") and row[column][1:] in formulas for row in rows)
    with open(folder / "excluded.csv", newline="") as handle:
        scores = [row["score"] for row in csv.DictReader(handle)]
    assert all(not score.startswith("'") for score in scores)  # numbers stay numbers


def test_a_killed_exports_staging_folder_goes_only_when_the_record_names_it(analyzed, tmp_path):
    recorded = tmp_path / ".out.writing-0123456789ab"
    (recorded / "out").mkdir(parents=True)
    (recorded / "out" / "half.json").write_text("{}")
    unrecorded = tmp_path / ".out.writing-mine"  # a user's folder that merely looks like one
    unrecorded.mkdir()
    (unrecorded / "keep.txt").write_text("keep")
    live = tmp_path / ".out.writing-live"
    live.mkdir()
    workspaces = foo.get_db_conn()[curation.EXPORT_WORKSPACES]
    import socket

    workspaces.insert_many([
        {"_id": str(recorded), "host": socket.gethostname(), "pid": dead_pid()},
        {"_id": str(live), "host": socket.gethostname(), "pid": os.getpid()},
    ])  # fmt: skip
    try:
        fr.export_curated(analyzed, ["wavelet"], str(tmp_path / "out"), "CSV", label_field="ground_truth")
        assert sorted(os.listdir(tmp_path)) == [".out.writing-live", ".out.writing-mine", "out"]
        assert (unrecorded / "keep.txt").read_text() == "keep"
        assert workspaces.find_one({"_id": str(recorded)}) is None
    finally:
        workspaces.delete_many({"_id": {"$in": [str(recorded), str(live)]}})


# --- internal names --------------------------------------------------------------------


@pytest.fixture
def tiny(tmp_path):
    """Four real image files (two identical) in a dataset with user fields and a tag."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    paths = []
    for index in range(4):
        pixels = rng.integers(0, 255, (24, 24, 3), dtype=np.uint8) if index != 3 else np.asarray(Image.open(paths[0]))
        path = tmp_path / "media" / f"image{index}.png"
        path.parent.mkdir(exist_ok=True)
        Image.fromarray(pixels).save(path)
        paths.append(str(path))
    dataset = fo.Dataset()
    dataset.add_samples([
        fo.Sample(filepath=path, ground_truth=fo.Classification(label="ab"[index % 2]), tags=["mine"])
        for index, path in enumerate(paths)
    ])  # fmt: skip
    yield dataset
    dataset.delete()


@pytest.mark.parametrize("key", ["redundancy_staging_x", "Redundancy_Staging_wave"])
def test_a_key_in_the_staging_namespace_is_refused_before_writing(tiny, key):
    schema = sorted(tiny.get_field_schema())
    with pytest.raises(ValueError, match="names this plugin's unfinished fields"):
        fr.compute_wavelet_clusters(tiny, key=key, progress=False)
    assert sorted(tiny.get_field_schema()) == schema and tiny.list_runs() == []


@pytest.mark.parametrize("name", ["redundancy_staging_wave_status", "redundancy_staging_0123456789ab_wave_score"])
def test_a_users_field_named_like_a_staging_field_survives_listing_and_runs(tiny, name):
    tiny.set_values(name, ["mine"] * len(tiny) if name.endswith("status") else [1.0] * len(tiny))
    fr.compute_wavelet_clusters(tiny, key="wave", progress=False)
    assert fr.list_runs(tiny) == ["wave"]
    fr.delete_run(tiny, "wave")
    fr.list_runs(tiny)
    assert tiny.has_sample_field(name) and len(set(tiny.values(name))) == 1


# --- no code from data -----------------------------------------------------------------


class CodeOnLoad:
    """A pickle that writes a file when it is loaded: what a crafted model file can do."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_crafted_model_file_runs_no_code_and_is_refused_saying_what_to_do(tiny, tmp_path):
    import torch

    marker, path = tmp_path / "ran", tmp_path / "crafted.pt"
    torch.save({"model": CodeOnLoad(str(marker))}, path)
    with pytest.raises(ValueError, match=r"holds a pickled model.*TorchScript.*trust_model_file=True"):
        fr.compute_feature_clusters(tiny, model_path=str(path), key="feat", progress=False)
    assert not marker.exists() and "feat" not in tiny.list_runs()


def test_a_pickled_model_loads_only_when_trusted_while_torchscript_and_state_dicts_need_no_trust(tmp_path):
    import torch
    import torchvision

    from fiftyone_redundancy.core.features import load_model

    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 2))
    torch.save(model, tmp_path / "whole.pt")
    torch.jit.save(torch.jit.script(model), tmp_path / "scripted.pt")
    torch.save(torchvision.models.resnet18(weights=None, num_classes=3).state_dict(), tmp_path / "state.pt")
    with pytest.raises(ValueError, match="holds a pickled model"):
        load_model(str(tmp_path / "whole.pt"))
    assert isinstance(load_model(str(tmp_path / "whole.pt"), trust_model_file=True), torch.nn.Sequential)
    assert load_model(str(tmp_path / "scripted.pt")) is not None
    assert load_model(str(tmp_path / "state.pt"), "resnet18", 3).fc.out_features == 3
    with pytest.raises(ValueError, match="for a state dict pass the torchvision architecture"):
        load_model(str(tmp_path / "state.pt"))


def test_the_app_form_offers_the_trust_flag_with_a_warning(tiny):
    from types import SimpleNamespace

    import fiftyone.operators.types as types

    from fiftyone_redundancy.operators.features import model_arguments, model_inputs

    for ticked in (False, True):
        params = {"source": "file", "model_path": "/models/m.pt", "trust_model_file": ticked}
        inputs = types.Object()
        model_inputs(inputs, SimpleNamespace(params=params, dataset=tiny))
        assert "trust_model_file" in inputs.properties
        assert ("trust_warning" in inputs.properties) is ticked
        assert model_arguments(params)["trust_model_file"] is ticked
    assert model_arguments({"source": "torchvision", "architecture": "resnet18", "trust_model_file": True})["trust_model_file"] is False


# --- only regular files ----------------------------------------------------------------


@pytest.mark.parametrize("kind", ["pipe", "device", "folder"])
def test_a_path_that_is_not_a_regular_file_is_refused_before_it_is_opened(tiny, tmp_path, kind):
    from fiftyone_redundancy.core.images import ImageReadError

    if kind == "pipe":
        path = str(tmp_path / "pipe.png")
        os.mkfifo(path)  # opening it for reading would block until a writer comes: forever
    elif kind == "device":
        path = str(tmp_path / "zero.png")
        os.symlink("/dev/zero", path)  # endless: a decoder would read it forever
    else:
        path = str(tmp_path / "folder.png")
        os.mkdir(path)
    sample = tiny.first()
    sample.filepath = path
    sample.save()
    with pytest.raises(ImageReadError, match=r"is a (named pipe|character device|folder), not a regular file; fix or remove"):
        fr.compute_wavelet_clusters(tiny, key="wave", progress=False)
    run = fr.compute_wavelet_clusters(tiny, key="wave", skip_failures=True, progress=False)
    assert [item["filepath"] for item in run.details["skipped"]] == [path]


@pytest.fixture(scope="module")
def slow_image(tmp_path_factory):
    """A regular file that takes a third of a second or more to decode (64 million
    pixels): a read that outlasts a time bound made small for the test."""
    import numpy as np
    from PIL import Image

    path = tmp_path_factory.mktemp("slow") / "slow.png"
    ramp = np.add.outer(np.arange(8000) % 256, np.arange(8000) % 256).astype(np.uint8)
    Image.fromarray(ramp).save(path, compress_level=1)
    return str(path)


def test_an_image_still_reading_after_the_time_bound_is_named_and_skippable(tiny, slow_image, monkeypatch):
    from fiftyone_redundancy.core import images

    monkeypatch.setattr(images, "DECODE_SECONDS", 0.05)
    monkeypatch.setattr(images, "POLL_SECONDS", 0.01)
    sample = tiny.first()
    sample.filepath = slow_image
    sample.save()
    with pytest.raises(images.ImageReadError, match=r"slow.png was still reading after 0.05 s .*fix or remove the sample"):
        fr.compute_wavelet_clusters(tiny, key="wave", progress=False)
    run = fr.compute_wavelet_clusters(tiny, key="wave", skip_failures=True, progress=False)
    assert [item["filepath"] for item in run.details["skipped"]] == [slow_image]
    assert "still reading after" in run.details["skipped"][0]["reason"]
    assert len(run.view()) == 3
    with pytest.raises(images.ImageReadError, match=r"every reading thread waits .* the storage they are on does not answer"):
        images.load_images([slow_image, *tiny.values("filepath")[1:]], workers=1, skip_failures=True)


@pytest.mark.parametrize("reader", ["decoding", "feature maps"])
def test_a_cancel_is_heard_while_an_image_is_still_reading(slow_image, monkeypatch, reader):
    """For the analyses' decoding, and for the feature maps' batches (decoded one ahead
    of the model)."""
    from fiftyone_redundancy.core import images

    monkeypatch.setattr(images, "POLL_SECONDS", 0.01)
    heard = []

    def cancel(done, total):
        heard.append((done, total))
        raise KeyboardInterrupt("cancelled")

    with pytest.raises(KeyboardInterrupt):
        if reader == "decoding":
            images.load_images([slow_image], workers=1, progress=cancel)
        else:
            import torch
            from fiftyone_redundancy.core.features import ImageFiles, extract_features

            model = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
            extract_features(model, None, ImageFiles([slow_image], (224, 224)), num_workers=1, progress=cancel)
    assert heard == [(0, 1)], "the cancel was heard only once the image was read"


def test_a_feature_map_run_names_an_image_still_reading_after_the_time_bound(tiny, slow_image, monkeypatch):
    """The feature maps read their images under the same bound (batches decoded ahead of
    the model by ``load_images``, not by DataLoader workers that no one can time)."""
    import torch
    from fiftyone_redundancy.core import images

    monkeypatch.setattr(images, "DECODE_SECONDS", 0.05)
    monkeypatch.setattr(images, "POLL_SECONDS", 0.01)
    sample = tiny.first()
    sample.filepath = slow_image
    sample.save()
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
    with pytest.raises(images.ImageReadError, match=r"slow.png was still reading after 0.05 s"):
        fr.compute_feature_clusters(tiny, model=model, key="feat", progress=False)
    assert "feat" not in fr.list_runs(tiny)


# --- deletion under the lease, from one snapshot ---------------------------------------


@pytest.fixture
def tiny_run(tiny):
    fr.compute_wavelet_clusters(tiny, key="wave", progress=False)
    assert tiny.count_values("wave_status").get("redundant") == 1
    return tiny


def test_delete_excluded_is_refused_while_another_writer_holds_the_run(tiny_run, tmp_path):
    from fiftyone_redundancy.bridge import runs

    manifest = tmp_path / "deleted.csv"
    with runs.RunWriter(tiny_run, "wave"):
        with pytest.raises(runs.RunInProgressError, match="being written by process"):
            fr.delete_excluded(tiny_run, ["wave"], str(manifest), confirm=True)
    assert len(tiny_run) == 4 and not manifest.exists()


def test_delete_excluded_deletes_exactly_what_its_manifest_lists(tiny_run, tmp_path, monkeypatch):
    """A writer ignoring the lease marks another sample after the manifest is written:
    that sample is not deleted, since the deletion acts on the manifest's snapshot."""
    written = curation.manifest._write_rows
    late = tiny_run.match(fo.ViewField("wave_status") != "redundant").first()

    def write_then_recut(*args):
        count = written(*args)
        late["wave_status"] = "redundant"
        late.save()
        return count

    monkeypatch.setattr(curation.manifest, "_write_rows", write_then_recut)
    manifest = tmp_path / "deleted.csv"
    before = dict(zip(tiny_run.values("id"), tiny_run.values("filepath")))
    assert fr.delete_excluded(tiny_run, ["wave"], str(manifest), confirm=True) == 1
    with open(manifest, newline="") as handle:
        listed = {row["filepath"] for row in csv.DictReader(handle)}
    gone = {path for sample_id, path in before.items() if sample_id not in set(tiny_run.values("id"))}
    assert gone == listed and len(listed) == 1 and late.id in tiny_run.values("id")


# --- every argument checked first ------------------------------------------------------


@pytest.mark.parametrize("arguments,message", [
    (dict(pair_score={"n_neighbour": 5}), r"pair_score has no setting 'n_neighbour'; did you mean 'n_neighbors'\?"),
    (dict(pair_score={"verificaton": "ssim"}), "did you mean 'verification'"),
    (dict(pair_score={"n_neighbors": None}), "n_neighbors must be a finite whole number, got None"),
    (dict(pair_score=[("n_neighbors", 5)]), "pair_score must be a dict"),
    (dict(similarity_backend="sklearn", similarity_config={"uri": "/tmp/x"}), "similarity_config has no setting 'uri'"),
    (dict(similarity_backend="lancedb", similarity_config={"table": "t"}), "did you mean 'table_name'"),
    (dict(similarity_config={"uri": "/tmp/x"}), "give similarity_backend too"),
    (dict(threshold=None), "threshold.* must be a finite number, got None"),
])  # fmt: skip
def test_settings_dicts_and_numbers_are_checked_by_name_before_any_work(tiny, arguments, message):
    schema = sorted(tiny.get_field_schema())
    for compute in (fr.compute_ssim_clusters, fr.compute_wavelet_clusters):
        with pytest.raises(ValueError, match=message):
            compute(tiny, key="ssim", progress=False, **arguments)
    assert sorted(tiny.get_field_schema()) == schema and tiny.list_runs() == []


@pytest.fixture
def reviewed_run(tiny_run):
    return tiny_run


@pytest.mark.parametrize("arguments,message", [
    (dict(when="2026-01-01"), "when must be a datetime"),
    (dict(score="high"), "score must be a finite number"),
    (dict(score=float("nan")), "score must be a finite number"),
])  # fmt: skip
def test_review_pair_checks_its_types(tiny_run, arguments, message):
    a, b = tiny_run.values("id")[:2]
    with pytest.raises(ValueError, match=message):
        fr.review_pair(tiny_run, "wave", a, b, "same", **arguments)
    assert fr.load_reviews(tiny_run, "wave") == []


def test_review_pair_names_ids_that_are_not_samples_of_the_run(tiny_run):
    a = tiny_run.first().id
    with pytest.raises(ValueError, match="is not in run 'wave'"):
        fr.review_pair(tiny_run, "wave", a, "0123456789abcdef01234567", "same")
    with pytest.raises(ValueError, match="sample ids must be strings"):
        fr.review_pair(tiny_run, "wave", a, 7, "same")


def review_csv(tmp_path, text, encoding="utf-8"):
    path = tmp_path / "review.csv"
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return str(path)


def test_a_review_csv_with_a_byte_order_mark_is_read(tiny_run, tmp_path):
    a, b = tiny_run.values("filepath")[:2]
    path = review_csv(tmp_path, f"file_a,file_b,score,decision,when\n{a},{b},,y,\n", "utf-8-sig")
    assert fr.import_reviews(tiny_run, "wave", path)["imported"] == 1


@pytest.mark.parametrize("content,message", [
    ("file_a,file_b,score,decision,when\n{a},{b}\n", "line 2: a short row"),
    (b"file_a,file_b,score,decision,when\n\xff\xfe,x,,y,\n", "is not UTF-8 text"),
    ("file_a,file_b,score,decision,when\n{a},{b},,\"" + "y" * 200_000 + "\",\n", "line 2: field larger than field limit"),
    ("file_a,file_b,score,decision,when\n{a},{b},inf,y,\n", "score inf is not a finite number"),
    ("file_a,file_b,score,decision,when\n{a},{b},,y,yesterday\n", "line 2: Invalid isoformat"),
    ("a;b;c\n1;2;3\n", "lacks the columns"),
])  # fmt: skip
def test_a_bad_review_csv_is_refused_naming_the_line_and_nothing_is_recorded(tiny_run, tmp_path, content, message):
    a, b = tiny_run.values("filepath")[:2]
    text = content.format(a=a, b=b) if isinstance(content, str) and "{a}" in content else content
    with pytest.raises(ValueError, match=message):
        fr.import_reviews(tiny_run, "wave", review_csv(tmp_path, text))
    assert fr.load_reviews(tiny_run, "wave") == []


def test_a_review_row_of_files_that_only_share_a_name_with_the_runs_samples_is_unmatched(tiny_run, tmp_path):
    a, b = (os.path.basename(path) for path in tiny_run.values("filepath")[:2])
    path = review_csv(tmp_path, f"file_a,file_b,score,decision,when\n/elsewhere/{a},/elsewhere/{b},,y,\n")
    assert fr.import_reviews(tiny_run, "wave", path) == {"imported": 0, "older": 0, "unmatched": 1}


@pytest.mark.parametrize("call", [
    lambda view: fr.list_runs(view),
    lambda view: fr.tag_samples(view, ["wave"]),
    lambda view: fr.delete_run(view, "wave"),
    lambda view: fr.rename_run(view, "wave", "other"),
    lambda view: fr.load_run(view, "wave"),
    lambda view: fr.export_curated(view, ["wave"], "/tmp/never-written"),
])  # fmt: skip
def test_a_view_where_a_dataset_is_expected_is_refused_naming_the_dataset(tiny_run, call):
    with pytest.raises(ValueError, match=r"needs a dataset, got a view of .*fo.load_dataset"):
        call(tiny_run.limit(2))
    assert fr.list_runs(tiny_run) == ["wave"] and not os.path.exists("/tmp/never-written")


@pytest.mark.parametrize("arguments,message", [
    (dict(dataset_type="ImageClassificationDirectoryTree", label_field="ground_truth", export_media=False), "needs export_media=True"),
    (dict(export_media="no"), "export_media must be True or False"),
    (dict(export_dir=""), "export_dir must be a folder path"),
    (dict(export_dir=None), "export_dir must be a folder path"),
])  # fmt: skip
def test_export_arguments_of_the_wrong_kind_are_refused_before_writing(tiny_run, tmp_path, arguments, message):
    arguments = {"export_dir": str(tmp_path / "out"), **arguments}
    with pytest.raises(ValueError, match=message):
        fr.export_curated(tiny_run, ["wave"], **arguments)
    assert sorted(os.listdir(tmp_path)) == ["media"]


@pytest.mark.parametrize("name", ["wave-review", "Wave Review"])
def test_a_curated_view_is_never_saved_over_a_runs_review_view(tiny_run, tmp_path, name):
    review = list(tiny_run.load_saved_view("wave-review").values("id"))
    with pytest.raises(ValueError, match="is run 'wave''s review view"):
        fr.export_curated(tiny_run, ["wave"], str(tmp_path / "out"), saved_view=name, overwrite=True)
    assert list(tiny_run.load_saved_view("wave-review").values("id")) == review and not (tmp_path / "out").exists()


def test_tags_are_recorded_before_they_are_written_so_a_kill_between_leaves_none_unowned(tiny_run, monkeypatch):
    """A process killed right after tagging (here: stopped by an error as the tags land)
    leaves tags that untag_samples removes, never ones passing for the user's."""
    import fiftyone.core.collections as foc

    original = foc.SampleCollection.tag_samples

    def tag_then_die(self, tag):
        original(self, tag)
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(foc.SampleCollection, "tag_samples", tag_then_die)
    with pytest.raises(KeyboardInterrupt):
        fr.tag_samples(tiny_run, ["wave"], statuses=["redundant"])
    monkeypatch.setattr(foc.SampleCollection, "tag_samples", original)
    assert tiny_run.count_sample_tags().get("redundant") == 1
    assert fr.untag_samples(tiny_run, ["wave"], statuses=["redundant"]) == {"redundant": 1}
    assert "redundant" not in tiny_run.count_sample_tags()
