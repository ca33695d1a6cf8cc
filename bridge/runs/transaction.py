"""The crash-safe write engine: one writer per run key holds the key's lease, stages its
fields under its attempt's names, records its commit in the lease in one update and
applies it phase by phase, so that a killed writer's next caller rolls the commit
forward or drops what it staged (docs/reliability.md)."""

import json
import os
import secrets
import socket
import threading
import time
from contextlib import ExitStack, contextmanager
from datetime import timedelta

import fiftyone.core.odm as foo
import fiftyone.core.runs as fors
from pymongo.errors import DuplicateKeyError, PyMongoError

from ..documented import documented
from ..run_hooks import AnalysisRunConfig
from .contract import COMMIT_FILES, STAGING_PREFIX, UPDATE_STORE_FILES, _groups_view, _leases, _ledger, _now
from .faults import RunCancelled, RunInProgressError, checkpoint
from .keys import check_key_name, require_dataset

COMMIT_TEXT_LIMIT = 4 * 2**20
PROGRESS_NOTE_SECONDS = 2.0
"""A writer notes its stage and percentage in its lease at most this often."""
LEASE_SECONDS = 60.0
"""A writer renews its lease every third of this; a lease not renewed for this long is
taken to belong to a dead writer."""
DEAD_WRITER_GRACE_SECONDS = 0.25
"""Before taking over from a dead writer: time for the writes it had already sent to
reach the database, so none lands after the recovery."""
COMMIT_PHASES = ("drop", "rename", "register", "view", "done")
CANCEL_POLL_SECONDS = 0.5
"""How often a writer looks for a cancel request on its lease."""


def _commit_files():
    import gridfs

    return gridfs.GridFS(foo.get_db_conn(), collection=COMMIT_FILES)


def _stored_change(text):
    """How a lease records a commit's text: in the lease itself, or, past
    ``COMMIT_TEXT_LIMIT`` (a million samples' run record is far over MongoDB's 16 MiB per
    document), in a GridFS file the lease names."""
    if len(text) <= COMMIT_TEXT_LIMIT:
        return {"change": text}
    return {"change_file": _commit_files().put(text.encode())}


def _loaded_change(commit):
    return commit["change"] if "change" in commit else _commit_files().get(commit["change_file"]).read().decode()


def _drop_change(commit):
    """Delete the GridFS file of a commit that has been applied (or never recorded)."""
    if "change_file" in commit:
        _commit_files().delete(commit["change_file"])


def _lease_id(dataset, key):
    """Keys equal but for case share a lease: they would share a review view."""
    return f"{dataset._doc.id}:{key.lower()}"


def _owner_alive(lease):
    """Whether the writer holding ``lease`` may still be working: its lease is unexpired
    and, on this host, its process exists."""
    if lease["expires_at"] < _now():
        return False
    owner = lease["owner"]
    if owner["host"] != socket.gethostname() or owner["pid"] == os.getpid():
        return True
    try:
        os.kill(owner["pid"], 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


class RunWriter:
    """One attempt at changing run ``key``: holds the key's lease (a document in the
    ``redundancy_leases`` collection naming host, pid, attempt id and expiry, renewed in the
    background), recovers what a dead writer left first, and names its staging fields
    after its attempt id so no two attempts share one.

    Use as a context manager; ``RunInProgressError`` names the live holder."""

    def __init__(self, dataset, key):
        require_dataset(dataset)
        check_key_name(key)
        self.dataset = dataset
        self.key = key
        self.attempt = secrets.token_hex(6)
        self.owner = {"host": socket.gethostname(), "pid": os.getpid(), "attempt": self.attempt}
        self.lease_id = _lease_id(dataset, key)
        self.committing = False
        self.staging = []
        self.staging_folders = []
        self._stop = threading.Event()
        self._cancel_request = None
        self._renewer = None

    def __enter__(self):
        self._acquire()
        self._renewer = threading.Thread(target=self._renew, daemon=True)
        self._renewer.start()
        checkpoint("leased")
        return self

    def __exit__(self, error_type, error, traceback):
        self._stop.set()
        self._renewer.join()
        if error_type is not None and self.committing:
            # the new values are complete: let the next call roll the commit forward
            _leases().update_one(self._mine(), {"$set": {"expires_at": _now()}})
            return
        if error_type is not None:
            _drop_fields(self.dataset, self.staging)
            _remove_folders(self.staging_folders)
        _ledger().delete_many({"attempt": self.attempt})
        _leases().delete_one(self._mine())

    def _mine(self):
        return {"_id": self.lease_id, "owner.attempt": self.attempt}

    def _acquire(self):
        for _ in range(3):
            now = _now()
            lease = {"owner": self.owner, "since": now, "expires_at": now + timedelta(seconds=LEASE_SECONDS)}
            try:
                _leases().insert_one({"_id": self.lease_id, "dataset_id": str(self.dataset._doc.id), "key": self.key, **lease})
                _reload_schema(self.dataset)
                break
            except DuplicateKeyError:
                held = _leases().find_one({"_id": self.lease_id})
                if held is None:
                    continue
                if _owner_alive(held):
                    raise RunInProgressError(_holder_message(self.dataset, self.key, held)) from None
                time.sleep(DEAD_WRITER_GRACE_SECONDS)
                taken = _leases().find_one_and_update(
                    {"_id": self.lease_id, "owner.attempt": held["owner"]["attempt"]}, {"$set": lease}
                )
                if taken is not None:
                    try:
                        _recover(self.dataset, held)
                    except BaseException:
                        _leases().update_one(self._mine(), {"$set": {"expires_at": _now()}})
                        raise
                    _leases().update_one(self._mine(), {"$unset": {"commit": "", "staging": "", "staging_folders": ""}})
                    break
        else:
            raise RunInProgressError(f"run key {self.key!r} on {self.dataset.name!r} is contended; retry")
        _drop_fields(self.dataset, stray_staging_fields(self.dataset, self.key, self.attempt))

    def _renew(self):
        """Renew the lease every third of ``LEASE_SECONDS`` and look for a cancel request
        every ``CANCEL_POLL_SECONDS`` (``raise_if_cancelled`` acts on it)."""
        renewed = time.monotonic()
        while not self._stop.wait(CANCEL_POLL_SECONDS):
            try:
                if time.monotonic() - renewed >= LEASE_SECONDS / 3:
                    _leases().update_one(self._mine(), {"$set": {"expires_at": _now() + timedelta(seconds=LEASE_SECONDS)}})
                    renewed = time.monotonic()
                lease = _leases().find_one(self._mine(), {"cancel": 1})
                if lease and lease.get("cancel"):
                    self._cancel_request = lease["cancel"]
            except PyMongoError:
                pass  # retried at the next beat; a lease lost meanwhile stops the commit

    def note_progress(self, stage, fraction=None):
        """Note in the lease the stage (and fraction done) this writer is at, at most every
        ``PROGRESS_NOTE_SECONDS``, so ``runs_in_progress`` shows it to anyone (a tab
        closed since, another process)."""
        now = time.monotonic()
        if stage == getattr(self, "_noted", (None, 0.0))[0] and now - self._noted[1] < PROGRESS_NOTE_SECONDS:
            return
        self._noted = (stage, now)
        try:
            _leases().update_one(self._mine(), {"$set": {"progress": {"stage": stage, "fraction": fraction}}})
        except PyMongoError:
            pass  # a note, not the work: the next one may land

    def raise_if_cancelled(self):
        """Stop the work here when someone asked to cancel this run (the writer's exit then
        drops the staging fields, so the dataset stays as it was); after the commit has
        begun, a cancel comes too late and is ignored."""
        if self._cancel_request is not None and not self.committing:
            request = self._cancel_request
            raise RunCancelled(
                f"run {self.key!r} of {self.dataset.name!r} was cancelled at "
                f"{request['at']:%H:%M:%S} UTC by {request['by']}; nothing was changed"
            )

    def staging_name(self, field):
        return f"{STAGING_PREFIX}{self.attempt}_{field}"

    def record_staging(self, names):
        """Note staging fields in the lease before creating them, so a recoverer finds them."""
        self.raise_if_cancelled()
        dataset_id = str(self.dataset._doc.id)
        _ledger().insert_many([
            {"dataset_id": dataset_id, "key": self.key.lower(), "attempt": self.attempt, "name": name} for name in names
        ])  # fmt: skip
        self._update({"$addToSet": {"staging": {"$each": list(names)}}})
        self.staging.extend(names)

    def record_staging_folder(self, folder):
        """Note in the lease a folder this attempt is about to create (it must not exist):
        a recoverer removes what it wrote there unless the attempt's commit was recorded,
        whose run then names it as its own (``lifecycle._owned_folders``)."""
        self.raise_if_cancelled()
        self._update({"$addToSet": {"staging_folders": folder}})
        self.staging_folders.append(folder)

    def commit(self, change):
        """Record ``change`` (see ``_roll_forward``) in the lease, one atomic update, then
        apply it. From that update on, the change happens: a killed writer's next caller
        finishes it."""
        text = _as_json(change)
        self.raise_if_cancelled()
        stored = _stored_change(text)
        # only while nobody has asked to cancel: the request and the commit exclude each other
        try:
            self._update({"$set": {"commit": {**stored, "phase": COMMIT_PHASES[0]}}}, {"cancel": {"$exists": False}})
        except BaseException:
            _drop_change(stored)
            raise
        self.committing = True
        checkpoint("committing")
        # applied from the stored text, exactly as a recovering caller would apply it
        _roll_forward(self.dataset, self.lease_id, json.loads(text), COMMIT_PHASES[0])
        _drop_change(stored)
        self.committing = False

    def _update(self, update, condition=None):
        if _leases().update_one({**self._mine(), **(condition or {})}, update).matched_count != 1:
            lease = _leases().find_one(self._mine(), {"cancel": 1})
            if lease is not None and lease.get("cancel"):
                self._cancel_request = lease["cancel"]
                self.raise_if_cancelled()
            raise RunInProgressError(
                f"the lease on run key {self.key!r} of {self.dataset.name!r} expired while "
                "this process worked (it was paused longer than "
                f"{LEASE_SECONDS:.0f} s) and another writer may have taken it; nothing was changed, retry"
            )


@documented
def runs_in_progress(dataset):
    """The runs of ``dataset`` being written now by a live writer.

    Args:

    Returns:
        ``{key: lease}``: the lease names the writer's host, process and start
    """
    leases = _leases().find({"dataset_id": str(dataset._doc.id), "commit": {"$exists": False}})
    return {lease["key"]: lease for lease in leases if _owner_alive(lease)}


@documented
def cancel_run(dataset, key, by="Python"):
    """Ask the live writer of run ``key`` to stop; it stops at its next progress step
    and leaves the dataset as it was (it raises :class:`RunCancelled`).

    Args:
        key: the key of a run being written
        by: who asks, as the cancelled run's message names them

    Returns:
        True when a writer was asked; False when no run of that key is in progress (or it
        is already committing, too late to cancel)
    """
    check_key_name(key)
    # keys equal but for case share a lease
    lease = next((held for name, held in runs_in_progress(dataset).items() if name.lower() == key.lower()), None)
    if lease is None:
        return False
    cancel = {"at": _now(), "by": by}
    found = _leases().update_one(
        {"_id": lease["_id"], "owner.attempt": lease["owner"]["attempt"], "commit": {"$exists": False}},
        {"$set": {"cancel": cancel}},
    )
    return found.matched_count == 1


@contextmanager
def holding(dataset, keys):
    """The leases of several run keys at once (one per key up to case), for changes that
    span runs, such as tagging their samples or renaming one; yields their writers."""
    with ExitStack() as leases:
        yield [leases.enter_context(RunWriter(dataset, key)) for key in {key.lower(): key for key in keys}.values()]


def _reload_schema(dataset):
    """See the runs and fields other processes wrote. Only the dataset's document: a
    writer killed inside a FiftyOne field operation can leave sample data ahead of the
    schema, and reloading in-memory samples would fail on it until recovery is done."""
    dataset._reload(hard=True)


def _holder_message(dataset, key, lease):
    owner = lease["owner"]
    return (
        f"run key {lease.get('key', key)!r} of dataset {dataset.name!r} is being written by "
        f"process {owner['pid']} on host {owner['host']!r} (attempt {owner['attempt']}) since "
        f"{lease['since']:%Y-%m-%d %H:%M:%S} UTC, its lease runs until "
        f"{lease['expires_at']:%H:%M:%S} UTC. Wait for it to finish or use another key; a "
        "lease left by a dead process is taken over once it expires"
    )


def _as_json(value):
    """``value`` as JSON text (numpy scalars and arrays included): the lease stores the
    commit as text, so tag names or counts keys with dots never meet BSON's key rules."""

    def convert(item):
        return item.tolist() if hasattr(item, "tolist") else str(item)

    return json.dumps(value, default=convert)


def stray_staging_fields(dataset, key, attempt=None):
    """Staging fields for ``key`` (or a key equal to it but for case: they share a lease)
    in the schema that the ledger names as written by another attempt than ``attempt``:
    only a dead writer leaves them while its key's lease is held by someone else. A field
    the ledger does not name is never one, whatever its name."""
    schema = dataset.get_field_schema()
    entries = _ledger().find({"dataset_id": str(dataset._doc.id), "key": key.lower(), "attempt": {"$ne": attempt}})
    return sorted({entry["name"] for entry in entries if entry["name"] in schema})


def _recover(dataset, lease):
    """Finish or undo what the dead writer of ``lease`` left: a recorded commit rolls
    forward (its new values are complete); otherwise its staging fields go."""
    # a kill inside FiftyOne's saved-view bookkeeping can leave a reference to a deleted
    # view document, or a document nothing references: FiftyOne's own repair mends both
    foo.patch_saved_views(dataset.name)
    _reload_schema(dataset)
    commit = lease.get("commit")
    if commit:
        _roll_forward(dataset, lease["_id"], json.loads(_loaded_change(commit)), commit["phase"])
        _drop_change(commit)
    else:
        _drop_fields(dataset, lease.get("staging", []))
        _remove_folders(lease.get("staging_folders", []))


def recover(dataset):
    """Clean up after every dead writer on ``dataset`` (no-op when there is none): its
    lease, and staging fields of keys nobody holds."""
    leases = list(_leases().find({"dataset_id": str(dataset._doc.id)}))
    held = {lease["key"].lower() for lease in leases if _owner_alive(lease)}
    schema = dataset.get_field_schema()
    entries = _ledger().find({"dataset_id": str(dataset._doc.id)})
    stray_keys = {entry["key"] for entry in entries if entry["name"] in schema}
    for key in {lease["key"] for lease in leases} | stray_keys:
        if key.lower() not in held:
            try:
                with RunWriter(dataset, key):
                    pass
            except (RunInProgressError, ValueError):
                pass  # a live writer took it over meanwhile, or not a key at all


def _roll_forward(dataset, lease_id, change, phase):
    """Apply a recorded change from ``phase`` on. Each phase is idempotent and the lease
    records the next one when a phase ends, so a kill anywhere replays at most the phase
    it interrupted (never an earlier one: replaying "drop" would delete the new fields).

    ``change``: ``key`` (the run written), ``drop_fields`` / ``drop_view`` / ``drop_map``
    / ``drop_run`` / ``drop_folders`` (what the previous run owned), ``renames`` (staging or old field ->
    final field), ``run`` (``method``, ``parameters``, ``results``; None when deleting),
    ``fields_key`` (the key the run's fields are named after, when not ``key``: a rename
    in place)."""
    key, run = change["key"], change.get("run")
    start = COMMIT_PHASES.index(phase)
    for current, following in zip(COMMIT_PHASES[start:], COMMIT_PHASES[start + 1 :]):
        if current == "drop":
            _drop_fields(dataset, change["drop_fields"])
            if change.get("drop_view") and dataset.has_saved_view(change["drop_view"]):
                dataset.delete_saved_view(change["drop_view"])
            if change.get("drop_map") and dataset.has_brain_run(change["drop_map"]):
                dataset.delete_brain_run(change["drop_map"])
            _remove_folders(change.get("drop_folders", []))
            if change.get("drop_run") and dataset.has_run(change["drop_run"]):
                # the record only: this commit is the run's cleanup (run_hooks.AnalysisRun)
                fors.Run.delete_run(dataset, change["drop_run"], cleanup=False)
            checkpoint("dropped:run")
        elif current == "rename":
            renames = {source: target for source, target in change["renames"].items() if dataset.has_sample_field(source)}
            if renames:
                # all at once: FiftyOne reloads every sample held in memory, one query
                # each, after each call (data first, then schema)
                dataset.rename_sample_fields(renames)
            checkpoint("renamed")
            _apply_updates(dataset, change.get("updates") or {})
        elif current == "register" and run is not None:
            if not dataset.has_run(key):
                dataset.register_run(key, AnalysisRunConfig(method=run["method"], **run["parameters"]))
                checkpoint("registered")
            dataset.save_run_results(key, dataset.init_run_results(key, **run["results"]))
            checkpoint("results")
        elif current == "view" and run is not None:
            name = run["results"]["review_view"]
            if dataset.has_saved_view(name):  # ours: validated before the commit
                dataset.delete_saved_view(name)
            dataset.save_view(name, _groups_view(dataset, change.get("fields_key", key)))
            checkpoint("view")
            if run["results"].get("map"):
                _store_map(dataset, run["results"], change.get("fields_key", key))
                checkpoint("map")
        _leases().update_one({"_id": lease_id, "commit": {"$exists": True}}, {"$set": {"commit.phase": following}})
    _leases().update_one({"_id": lease_id}, {"$unset": {"commit": "", "staging": "", "staging_folders": ""}})
    checkpoint("committed")


def _apply_updates(dataset, updates):
    """Set the recorded new values ``{sample id: {field: value}}`` (idempotent)."""
    if updates:
        _bulk_set(dataset, updates)
        checkpoint("updated")


def _bulk_set(dataset, rows):
    """Set ``{sample id: {field: value as stored}}`` in one bulk write (FiftyOne's own,
    which also refreshes samples held in memory), stamping ``last_modified_at`` where the
    dataset has that field."""
    from bson import ObjectId
    from pymongo import UpdateOne

    stamp = {"last_modified_at": _now()} if dataset.has_sample_field("last_modified_at") else {}
    operations = [UpdateOne({"_id": ObjectId(i)}, {"$set": {**values, **stamp}}) for i, values in rows.items()]
    dataset._bulk_write(operations, ids=list(rows))


def _remove_folders(folders):
    """Remove what this plugin wrote in folders a lease or a run record names as its own:
    the files an update store holds (``contract.UPDATE_STORE_FILES``), then the folder if
    nothing else is left in it (a file someone else put there stays, with its folder)."""
    for folder in folders:
        for name in UPDATE_STORE_FILES:
            path = os.path.join(folder, name)
            if os.path.isfile(path) and not os.path.islink(path):
                os.remove(path)
        if os.path.isdir(folder) and not os.listdir(folder):
            os.rmdir(folder)


def _drop_fields(dataset, names):
    """Delete the fields ``names`` (idempotent): values first, then the schema, as one
    update and one schema call (FiftyOne reloads every sample held in memory, one query
    each, after each call). Values without a schema entry (a kill inside the schema call)
    would make loading samples fail."""
    names = list(names)
    if names:
        dataset._sample_collection.update_many(
            {"$or": [{name: {"$exists": True}} for name in names]}, {"$unset": {name: "" for name in names}}
        )
    present = [name for name in names if dataset.has_sample_field(name)]
    if present:
        dataset.delete_sample_fields(present)
    checkpoint("dropped:fields")


def _store_map(dataset, results, key):
    """The run's 2-D points (``results``: its record) as a fiftyone-brain visualization run
    named ``results["map"]``, over the samples with ``{key}_status``, where FiftyOne's
    Embeddings panel finds them; a brain run of that name is this run's own (checked
    before the commit) and is replaced."""
    import fiftyone.brain as fob
    import numpy as np

    name = results["map"]
    if dataset.has_brain_run(name):
        dataset.delete_brain_run(name)
    samples = dataset.exists(f"{key}_status")
    row_of = {sample_id: row for row, sample_id in enumerate(results["sample_ids"])}
    points = np.asarray(results["points"], dtype=float)[[row_of[sample_id] for sample_id in samples.values("id")]]
    fob.compute_visualization(samples, points=points, brain_key=name, progress=False)
