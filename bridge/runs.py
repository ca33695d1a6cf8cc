"""Stored runs of this plugin: fields on samples plus a FiftyOne run record.

Every analysis writes the DESIGN.md contract for each sample of the analysed view,
``{key}_status``, ``{key}_group``, ``{key}_representative`` and ``{key}_score``, and
registers a run whose config carries ``method`` (``redundancy.<analysis>``) and the
parameters, and whose results carry counts, timings and the panel's projection.
"""

import json
import os
import secrets
import signal
import socket
import threading
import time
from contextlib import ExitStack, contextmanager
from datetime import datetime, timedelta, timezone

import fiftyone as fo
import fiftyone.core.odm as foo
import fiftyone.core.runs as fors
import fiftyone.core.utils as fou
from fiftyone import ViewField as F
from pymongo.errors import DuplicateKeyError, PyMongoError

from ..core.decisions import INFLUENTIAL, REDUNDANT, REPRESENTATIVE, STATUSES
from ..core.pair_score import ScoredPairs
from ..core.spectral import clusters_from_spectrum
from ..core.ssim_analysis import SSIMParameters
from ..core.timing import timed
from ..version import VERSION
from .documented import documented
from .methods import METHODS, method_named
from .run_hooks import AnalysisRunConfig
from .samples import distinct_names, read_labels

METHOD_PREFIX = "redundancy."
STAGING_PREFIX = "redundancy_staging_"
FIELD_TYPES = {
    "status": fo.StringField,
    "group": fo.IntField,
    "representative": fo.StringField,
    "score": fo.FloatField,
}
EXTRA_SUFFIXES = ("best_match", "best_similarity", "crossings", "embedding", "repair")
"""Field suffixes beyond the contract that some runs write (split runs, the probe,
feature-map runs that store their features), and the staging field of a split repair
(whose field the user names)."""
LEASES = "redundancy_leases"
STAGING_LEDGER = "redundancy_staging_fields"
"""One document per staging field a writer is about to create (dataset, key, attempt,
name): the only record by which a staging field is ever deleted, so a user's field is
never taken for one because of its name. A dead attempt's entries stay, so a write of
its that lands late is still known."""
COMMIT_FILES = "redundancy_commits"
COMMIT_TEXT_LIMIT = 4 * 2**20
REVIEWS = "redundancy_reviews"
"""Pair-review decisions of each run (``bridge/review.py``): a document per reviewed pair,
so that a decision is one write and reviewers working at once never overwrite each other."""
ENDINGS = "redundancy_endings"
"""How each analysis that stored no run ended (failed or cancelled), one document per
dataset and key, so a run started in a tab closed since still says what became of it."""
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


class RunInProgressError(RuntimeError):
    """Another live process (or thread) holds the lease on a run key."""


class RunCancelled(RuntimeError):
    """The run was cancelled (``cancel_run``) before its commit: nothing changed."""


def parameters_record(parameters):
    """A parameters dataclass as JSON-able run config values (nested dataclasses as
    dicts, tuples as lists)."""
    import dataclasses

    return json_ready(dataclasses.asdict(parameters))


def json_ready(value):
    if isinstance(value, dict):
        return {name: json_ready(item) for name, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(item) for item in value]
    return value


def run_fields(key, extra_suffixes=()):
    """The sample fields a run under ``key`` owns: the contract's, plus any extras."""
    return [f"{key}_{suffix}" for suffix in (*FIELD_TYPES, *extra_suffixes)]


def method_words(stored):
    """A stored run's method as a user reads it: ``a run of SSIM`` for this plugin's
    (never its internal name), ``a run of method 'x'`` for another tool's."""
    name = (stored or "")[len(METHOD_PREFIX) :] if (stored or "").startswith(METHOD_PREFIX) else None
    if name in METHODS:
        return f"a run of {METHODS[name].label}"
    return f"a run of method {stored!r}" if name is None else "a run of an unknown analysis of this plugin"


def check_key_name(key):
    """Refuse, before anything is written, a key FiftyOne cannot store as a run."""
    if not isinstance(key, str) or not key.isidentifier() or key.startswith("_"):
        raise ValueError(
            f"run key {key!r} must be a Python identifier that does not start with '_', "
            "e.g. 'wavelet'"
        )
    if key.lower().startswith(STAGING_PREFIX):
        raise ValueError(
            f"run key {key!r} starts with {STAGING_PREFIX!r}, which names this plugin's "
            "unfinished fields; choose another key, e.g. 'wavelet'"
        )


def require_dataset(dataset):
    """Refuse a view where runs are read or changed: they belong to the dataset."""
    if not isinstance(dataset, fo.Dataset):
        if isinstance(dataset, fo.DatasetView):
            raise ValueError(
                f"this needs a dataset, got a view of {dataset.dataset_name!r}: runs belong to the whole "
                f"dataset; pass fo.load_dataset({dataset.dataset_name!r})"
            )
        raise ValueError(f"this needs a FiftyOne dataset, got {type(dataset).__name__} {dataset!r:.60}")


def validate_key(samples, key, method, extra_suffixes=(), overwrite=False):
    """Check that ``key`` can hold a run of ``method`` without touching anything else:
    no other run's key equal to it but for case, no field or saved view of that name
    that this plugin did not create; and a run on fewer samples replaces the stored one
    only with ``overwrite`` (see ``check_replacement``)."""
    check_key_name(key)
    dataset = samples._dataset
    twins = [other for other in dataset.list_runs() if other != key and other.lower() == key.lower()]
    if twins:
        raise ValueError(
            f"run key {key!r} differs only in case from run {twins[0]!r} on dataset "
            f"{dataset.name!r}; their review views would collide. Choose another key"
        )
    view_holder = _saved_view_holder(dataset, review_view_name(key))
    if method_named(method).map_space:
        _check_map_free(dataset, key, map_brain_key(key))
    if dataset.has_run(key):
        existing = dataset.get_run_info(key).config.method
        if existing != METHOD_PREFIX + method:
            raise ValueError(
                f"run key {key!r} already holds {method_words(existing)} on dataset "
                f"{dataset.name!r}; choose another key or delete that run first"
            )
        owned_view = _owned_review_view(dataset, key)
        if view_holder is not None and view_holder != owned_view:
            raise _view_taken_error(dataset, view_holder, key)
        check_replacement(samples, key, overwrite)
        return
    schema = dataset.get_field_schema()
    taken = [name for name in run_fields(key, extra_suffixes) if name in schema]
    if taken:
        raise ValueError(
            f"fields {taken} already exist on dataset {dataset.name!r} but belong to no "
            f"run of this plugin; choose another key than {key!r}"
        )
    if view_holder is not None:
        raise _view_taken_error(dataset, view_holder, key)


class ReplacementRefused(ValueError):
    """A new run would replace one that covers samples it does not; nothing changed."""


def samples_outside(samples, key):
    """How many samples the run under ``key`` covers that ``samples`` does not: they would
    lose their ``{key}_*`` fields if a run on ``samples`` replaced it."""
    dataset = samples._dataset
    field = f"{key}_status"
    if not dataset.has_sample_field(field):
        return 0
    return dataset.exists(field).count() - samples.exists(field).count()


def check_replacement(samples, key, overwrite=False):
    """Refuse (brain-style) to replace the run under ``key`` by a run on ``samples`` that
    leaves out samples the stored run covers, unless ``overwrite=True``."""
    n_outside = samples_outside(samples, key)
    if n_outside and not overwrite:
        raise ReplacementRefused(
            f"run key {key!r} holds a run on {samples._dataset.exists(f'{key}_status').count()} "
            f"samples of dataset {samples._dataset.name!r}; {n_outside} of them are outside the "
            "samples given now and would lose their results. Choose another key, or pass "
            "overwrite=True to replace that run"
        )


def _saved_view_holder(dataset, name):
    """The saved view whose name (or URL slug, which FiftyOne keeps unique) is ``name``'s."""
    slug = fou.to_slug(name)
    for existing in dataset.list_saved_views():
        if existing == name or fou.to_slug(existing) == slug:
            return existing
    return None


def _view_taken_error(dataset, holder, key):
    return ValueError(
        f"saved view {holder!r} on dataset {dataset.name!r} was not created by this plugin; "
        f"run {key!r} would save its review view under {review_view_name(key)!r}. Rename "
        "that view or choose another key"
    )


def _owned_review_view(dataset, key):
    """The review view run ``key`` saved (runs stored before this was recorded: its
    standard name)."""
    results = dataset.load_run_results(key, cache=False)
    return getattr(results, "review_view", review_view_name(key)) if results is not None else None


def _now():
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _leases():
    return foo.get_db_conn()[LEASES]


def _reviews():
    return foo.get_db_conn()[REVIEWS]


def _ledger():
    return foo.get_db_conn()[STAGING_LEDGER]


def record_ending(dataset, key, error):
    """Note that the analysis under ``key`` ended without storing a run, and why."""
    outcome = "cancelled" if isinstance(error, RunCancelled) else "failed"
    foo.get_db_conn()[ENDINGS].replace_one(
        {"_id": _lease_id(dataset, key)},
        {"dataset_id": str(dataset._doc.id), "key": key, "outcome": outcome, "message": str(error), "at": _now()},
        upsert=True,
    )


def unstored_endings(dataset):
    """The analyses of ``dataset`` that failed or were cancelled since the run under
    their key was last stored (or with none stored): ``[{key, outcome, message, at}]``,
    latest first."""
    endings = foo.get_db_conn()[ENDINGS].find({"dataset_id": str(dataset._doc.id)}, sort=[("at", -1)])
    return [
        ending for ending in endings
        if not dataset.has_run(ending["key"]) or dataset.get_run_info(ending["key"]).timestamp < ending["at"]
    ]  # fmt: skip


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


def checkpoint(stage):
    """Fault injection for tests/test_kill.py, inert unless its environment variables are
    set: ``FIFTYONE_REDUNDANCY_TRACE`` (a file) records
    each stage reached, ``FIFTYONE_REDUNDANCY_KILL_AT=N`` SIGKILLs this process at its Nth
    stage, and ``FIFTYONE_REDUNDANCY_HOLD`` (a file) holds a writer that has just taken its
    lease until that file exists."""
    trace = os.environ.get("FIFTYONE_REDUNDANCY_TRACE")
    if trace:
        with open(trace, "a") as handle:
            handle.write(stage + "\n")
    kill_at = os.environ.get("FIFTYONE_REDUNDANCY_KILL_AT")
    if kill_at:
        checkpoint.reached = getattr(checkpoint, "reached", 0) + 1
        if checkpoint.reached == int(kill_at):
            os.kill(os.getpid(), signal.SIGKILL)
    hold = os.environ.get("FIFTYONE_REDUNDANCY_HOLD")
    if hold and stage == "leased":
        while not os.path.exists(hold):
            time.sleep(0.01)


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
                    _leases().update_one(self._mine(), {"$unset": {"commit": "", "staging": ""}})
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
    / ``drop_run`` (what the previous run owned), ``renames`` (staging or old field ->
    final field), ``run`` (``method``, ``parameters``, ``results``; None when deleting),
    ``fields_key`` (the key the run's fields are named after, when not ``key``: a rename
    in place)."""
    key, run = change["key"], change.get("run")
    start = COMMIT_PHASES.index(phase)
    for current, following in zip(COMMIT_PHASES[start:], COMMIT_PHASES[start + 1 :]):
        if current == "drop":
            for field in change["drop_fields"]:
                # values first, then the schema: values without a schema entry (a kill
                # inside delete_sample_field) would make loading samples fail
                dataset._sample_collection.update_many({field: {"$exists": True}}, {"$unset": {field: ""}})
                if dataset.has_sample_field(field):
                    dataset.delete_sample_field(field)
                checkpoint(f"dropped:{field}")
            if change.get("drop_view") and dataset.has_saved_view(change["drop_view"]):
                dataset.delete_saved_view(change["drop_view"])
            if change.get("drop_map") and dataset.has_brain_run(change["drop_map"]):
                dataset.delete_brain_run(change["drop_map"])
            if change.get("drop_run") and dataset.has_run(change["drop_run"]):
                # the record only: this commit is the run's cleanup (run_hooks.AnalysisRun)
                fors.Run.delete_run(dataset, change["drop_run"], cleanup=False)
            checkpoint("dropped:run")
        elif current == "rename":
            for source, target in change["renames"].items():
                if dataset.has_sample_field(source):
                    dataset.rename_sample_field(source, target)  # data first, then schema
                checkpoint(f"renamed:{target}")
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
    _leases().update_one({"_id": lease_id}, {"$unset": {"commit": "", "staging": ""}})
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


def store_changes(writer, samples, method, parameters, sample_ids, decisions, details):
    """``store_run`` for a run whose samples stay the same (a re-cut): the commit records
    and applies only the field values that differ from the stored ones, so a change to a
    few groups of a large run writes a few documents, all or nothing as ``store_run``."""
    dataset, key = samples._dataset, writer.key
    details["timings"].pop("write", None)  # the re-cut's own write replaces the run's
    with timed(details["timings"], "write"):
        columns = _columns(sample_ids, decisions)
        fields = [f"{key}_{suffix}" for suffix in columns]
        stored = dict(zip(samples.values("id"), zip(*samples.values(fields))))
        updates = {}
        for row, sample_id in enumerate(sample_ids):
            new = [columns[suffix][row] for suffix in columns]
            if list(stored[sample_id]) != new:
                updates[sample_id] = {field: value for field, value, old in zip(fields, new, stored[sample_id]) if value != old}
        details["tagged"] = getattr(dataset.load_run_results(key, cache=False), "tagged", None) or {}
        details["fields"] = _owned_fields(dataset, key)
        details["review_view"] = _owned_review_view(dataset, key)
        details["map"] = _map_of(key, details)
    writer.commit({
        "key": key,
        "drop_fields": [],
        "drop_view": None,
        "drop_map": _owned_map(dataset, key),
        "drop_run": key,
        "renames": {},
        "updates": updates,
        "run": _run_record(method, parameters, sample_ids, decisions, details),
    })  # fmt: skip
    return RedundancyRun(dataset, key)


def _run_record(method, parameters, sample_ids, decisions, details):
    """The run record a commit registers: method, parameters, and results with counts."""
    results = {"counts": decisions.counts(), "n_samples": len(sample_ids), **details, "version": VERSION}
    return {"method": METHOD_PREFIX + method, "parameters": parameters, "results": results}


def _columns(sample_ids, decisions):
    """The contract's field values per suffix, index-aligned with ``sample_ids``."""
    return {
        "status": [str(status) for status in decisions.status],
        "group": [int(group) for group in decisions.group],
        "representative": [sample_ids[i] if i >= 0 else None for i in decisions.representative],
        "score": [float(score) for score in decisions.score],
    }


def store_run(writer, samples, method, parameters, sample_ids, decisions, details,
              extra_fields=None):  # fmt: skip
    """Write ``decisions`` (index-aligned with ``sample_ids``) as fields and register the
    run under ``writer.key``, all or nothing, even if the process is killed.

    ``extra_fields`` maps more field suffixes to ``(field type, values)``. The values go
    to staging fields named after this attempt; then one update records the commit in
    the key's lease, and the commit drops the previous run's fields (so samples outside
    the new view keep no stale values), renames the staging fields into place, and
    registers the run. Killed before that update, the next call drops the staging
    fields (the old run stays); after it, the next call completes the commit.
    """
    dataset, key = samples._dataset, writer.key
    with timed(details["timings"], "write"):
        columns = _columns(sample_ids, decisions)
        field_types = dict(FIELD_TYPES)
        for suffix, (field_type, values) in (extra_fields or {}).items():
            field_types[suffix] = field_type
            columns[suffix] = values
        staging = {writer.staging_name(f"{key}_{suffix}"): f"{key}_{suffix}" for suffix in field_types}
        writer.record_staging(staging)
        for (stage, final), field_type in zip(staging.items(), field_types.values()):
            dataset.add_sample_field(stage, field_type)
            checkpoint(f"staging:{final}")
        write_columns(dataset, sample_ids, dict(zip(staging, columns.values())))

        previous = dataset.has_run(key)
        if previous:  # the tags an earlier run of this key added stay removable by untag
            details["tagged"] = getattr(dataset.load_run_results(key, cache=False), "tagged", None) or {}
        details["fields"] = list(staging.values())
        details["review_view"] = review_view_name(key)
        details["map"] = _map_of(key, details)
    writer.commit({
        "key": key,
        "drop_fields": _owned_fields(dataset, key) if previous else [],
        "drop_view": _owned_review_view(dataset, key) if previous else None,
        "drop_map": _owned_map(dataset, key) if previous else None,
        "drop_run": key if previous else None,
        "renames": staging,
        "run": _run_record(method, parameters, sample_ids, decisions, details),
    })  # fmt: skip
    return RedundancyRun(dataset, key)


WRITE_BATCH = 10_000


def write_columns(dataset, sample_ids, columns):
    """Write ``columns`` (field name -> values index-aligned with ``sample_ids``; the
    fields declared already) in bulk updates of ``WRITE_BATCH`` samples, each setting
    every field of one sample: 1.8 s for four fields of 50,000 samples, where one
    ``set_values`` per field took 8.7 s (``benchmarks/features_cifar.py --write-back``)."""
    fields = {name: dataset.get_field(name) for name in columns}
    for start in range(0, len(sample_ids), WRITE_BATCH):
        rows = {
            sample_ids[row]: {
                name: None if values[row] is None else fields[name].to_mongo(values[row]) for name, values in columns.items()
            }
            for row in range(start, min(start + WRITE_BATCH, len(sample_ids)))
        }
        _bulk_set(dataset, rows)
        checkpoint(f"written:{start + len(rows)}")


def _drop_fields(dataset, names):
    for name in names:
        if dataset.has_sample_field(name):
            dataset.delete_sample_field(name)


def review_view_name(key):
    """Every run saves its groups (largest first, representative first) under this name."""
    return f"{key}-review"


@documented
def list_runs(dataset, method=None):
    """The keys of this plugin's runs on ``dataset``, after cleaning up what dead
    writers left.

    Args:
        method: only runs of this analysis (its name in ``bridge.methods.METHODS``, e.g.
            "wavelet_clusters"); None: all

    Returns:
        a list of run keys
    """
    require_dataset(dataset)
    recover(dataset)
    return _plugin_runs(dataset, method)


def method_of(dataset, key):
    """The description (``bridge.methods.Method``) of the analysis run ``key`` stored."""
    return method_named(dataset.get_run_info(key).config.method[len(METHOD_PREFIX) :])


def _plugin_runs(dataset, method=None):
    keys = []
    for key in dataset.list_runs():
        stored = dataset.get_run_info(key).config.method or ""
        if stored.startswith(METHOD_PREFIX) and (
            method is None or stored == METHOD_PREFIX + method
        ):
            keys.append(key)
    return keys


@documented
def delete_run(dataset, key):
    """Delete the run under ``key`` and the fields, review view and reviews it owns, and
    take back the review tags its reviews added (a sample another run's review with the
    same tag covers keeps it).

    Args:

    Returns:
        ``{tag: samples untagged}``
    """
    with RunWriter(dataset, key) as writer:
        _require_run(dataset, key)
        writer.commit({
            "key": key,
            "drop_fields": _owned_fields(dataset, key),
            "drop_view": _owned_review_view(dataset, key),
            "drop_map": _owned_map(dataset, key),
            "drop_run": key,
            "renames": {},
            "run": None,
        })  # fmt: skip
    untagged = _untag_reviews(dataset, key)
    _reviews().delete_many({"dataset_id": str(dataset._doc.id), "key": key})
    return untagged


def _untag_reviews(dataset, key):
    """Remove the tags the reviews of run ``key`` added (``added``: the samples that did
    not have them) where no review of another run with the same tag covers the sample;
    that review inherits the right to remove it later. ``{tag: samples untagged}``."""
    reviews = list(_reviews().find({"dataset_id": str(dataset._doc.id), "key": key, "tag": {"$ne": None}}))
    untagged = {}
    for tag in sorted({review["tag"] for review in reviews if review.get("tag")}):
        added = sorted({sample_id for review in reviews if review.get("tag") == tag for sample_id in review.get("added", [])})
        others = {"dataset_id": str(dataset._doc.id), "key": {"$ne": key}, "tag": tag}
        kept = set()
        for heir in _reviews().find({**others, "$or": [{"a": {"$in": added}}, {"b": {"$in": added}}]}):
            covered = {heir["a"], heir["b"]} & set(added)
            kept |= covered
            _reviews().update_one({"_id": heir["_id"]}, {"$addToSet": {"added": {"$each": sorted(covered)}}})
        tagged = dataset.select([sample_id for sample_id in added if sample_id not in kept]).match_tags(tag)
        untagged[tag] = len(tagged)
        tagged.untag_samples(tag)
    return {tag: count for tag, count in untagged.items() if count}


@documented
def rename_run(dataset, key, new_key):
    """Rename a run, its fields and its review view; every target name is checked
    before anything changes.

    Args:
        new_key: its new key

    Returns:
        the renamed :class:`RedundancyRun`
    """
    check_key_name(new_key)
    if new_key == key:
        return RedundancyRun(dataset, key)
    with holding(dataset, [key, new_key]) as writers:
        writers[0].commit({**_renaming(dataset, key, new_key), "key": new_key, "drop_run": key})
        _reviews().update_many({"dataset_id": str(dataset._doc.id), "key": key}, {"$set": {"key": new_key}})
    return RedundancyRun(dataset, new_key)


def rename_in_place(dataset, key, new_key):
    """``rename_run`` but for the move of the run record, which FiftyOne's own
    ``rename_run`` makes right after (``run_hooks.AnalysisRun.rename``): the fields,
    review view and reviews follow ``new_key``, and the record, still under ``key``,
    names them."""
    check_key_name(new_key)
    with holding(dataset, [key, new_key]) as writers:
        writers[0].commit({**_renaming(dataset, key, new_key), "key": key, "fields_key": new_key, "drop_run": None})
        _reviews().update_many({"dataset_id": str(dataset._doc.id), "key": key}, {"$set": {"key": new_key}})


def _renaming(dataset, key, new_key):
    """The change that renames run ``key`` to ``new_key`` (its fields, review view and
    record), after checking every target name; the caller holds both keys' leases."""
    run = RedundancyRun(dataset, key)
    old_fields = run.fields
    # the fields named after the key follow it; one the user named (a repaired split) stays
    named = set(getattr(run._results, "repairs", None) or {})
    new_fields = [name if name in named else new_key + name[len(key) :] for name in old_fields]
    if dataset.has_run(new_key):
        raise ValueError(f"run key {new_key!r} is already taken on {dataset.name!r}")
    schema = dataset.get_field_schema()
    taken = [new for old, new in zip(old_fields, new_fields) if new != old and new in schema]
    if taken:
        raise ValueError(
            f"fields {taken} already exist on dataset {dataset.name!r}; rename or delete "
            f"them, or choose another key than {new_key!r}"
        )
    twins = [k for k in dataset.list_runs() if k != key and k.lower() == new_key.lower()]
    if twins:
        raise ValueError(f"run key {new_key!r} differs only in case from run {twins[0]!r}; choose another key")
    holder = _saved_view_holder(dataset, review_view_name(new_key))
    owned_view = _owned_review_view(dataset, key)
    if holder is not None and holder != owned_view:
        raise _view_taken_error(dataset, holder, new_key)
    details = run.stored_details
    _check_map_free(dataset, new_key, _map_of(new_key, details))
    results = {"counts": run.counts, **details, "fields": new_fields, "review_view": review_view_name(new_key),
               "map": _map_of(new_key, details), "version": VERSION}  # fmt: skip
    return {
        "drop_fields": [],
        "drop_view": owned_view,
        "drop_map": _owned_map(dataset, key),
        "renames": {old: new for old, new in zip(old_fields, new_fields) if new != old},
        "run": {"method": METHOD_PREFIX + run.method, "parameters": run.parameters, "results": results},
    }


def update_results(dataset, key, change):
    """Apply ``change(results)`` to the stored results of run ``key`` and save them: the
    one way a run record is amended after its commit (tags added, representatives
    overridden). The caller holds the key's lease."""
    results = dataset.load_run_results(key, cache=False)
    change(results)
    dataset.save_run_results(key, results)


def add_fields(dataset, key, names):
    """Record the sample fields ``names`` as owned by run ``key`` (renamed and deleted
    with it), before they are written. The caller holds the key's lease."""

    def own(results):
        results.fields = list(results.fields) + [name for name in names if name not in results.fields]

    update_results(dataset, key, own)


def _owned_map(dataset, key):
    """The brain visualization run that run ``key`` stored (None: none, or a run stored
    before maps were)."""
    results = dataset.load_run_results(key, cache=False)
    return getattr(results, "map", None) if results is not None else None


def map_brain_key(key):
    """Runs with a map store it as a brain visualization run under this key."""
    return f"{key}_map"


def _map_of(key, details):
    """The brain key under which run ``key``, stored with ``details``, keeps its map (None:
    a run without a map)."""
    return map_brain_key(key) if "points" in details else None


def _check_map_free(dataset, key, name):
    """Refuse a run ``key`` whose map would replace a brain run (``name``) it did not store."""
    if name and dataset.has_brain_run(name) and (not dataset.has_run(key) or _owned_map(dataset, key) != name):
        raise ValueError(
            f"brain run {name!r} on dataset {dataset.name!r} was not created by this plugin; run "
            f"{key!r} would store its map there (for FiftyOne's Embeddings panel). Rename or delete "
            "that brain run, or choose another key"
        )


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


def _owned_fields(dataset, key):
    results = dataset.load_run_results(key, cache=False)
    return list(getattr(results, "fields", None) or run_fields(key))


def require_run(dataset, key):
    """Refuse, with the dataset's runs, a key that holds no run of this plugin (after
    cleaning up what dead writers left)."""
    require_dataset(dataset)
    recover(dataset)
    _require_run(dataset, key)


def _require_run(dataset, key):
    """``require_run`` for a caller that holds the key's lease (no recovery pass)."""
    if key not in _plugin_runs(dataset):
        raise ValueError(
            f"dataset {dataset.name!r} has no redundancy run {key!r}; "
            f"its runs are {_plugin_runs(dataset)}"
        )


def _groups_view(dataset, key):
    """Samples in groups, group by group (largest first), each representative first."""
    group, status = f"{key}_group", f"{key}_status"
    return dataset.match(F(group) >= 0).sort_by([(F(group), 1), ((F(status) == REPRESENTATIVE), -1)])


class RedundancyRun:
    """A stored analysis: parameters, counts, timings, and the views it implies."""

    def __init__(self, dataset, key):
        require_run(dataset, key)
        self.dataset = dataset
        self.key = key
        info = dataset.get_run_info(key)
        self.method = info.config.method[len(METHOD_PREFIX) :]
        self.parameters = {
            name: value
            for name, value in info.config.serialize().items()
            if name not in ("method", "cls", "type")
        }
        self.timestamp = info.timestamp
        self._results = dataset.load_run_results(key, cache=False)

    @property
    def method_info(self):
        """The analysis' description (``bridge.methods.Method``): its label, map, views."""
        return method_named(self.method)

    @property
    def version(self):
        """The version of the plugin that last wrote the run (None: one before 0.2.0)."""
        return getattr(self._results, "version", None)

    @property
    def counts(self):
        """Samples per status, e.g. ``{"redundant": 12, ...}``."""
        return dict(self._results.counts)

    @property
    def timings(self):
        """Seconds per stage of the analysis."""
        return dict(self._results.timings)

    @property
    def stored_details(self):
        """The details as the run record holds them (its pairs encoded): what a rename or
        a re-cut stores again."""
        return {name: getattr(self._results, name) for name in self._results.attributes() if name not in ("cls",)}

    @property
    def details(self):
        """Everything the run stored beyond counts (timings, selection, projection...).
        Stored pairs come as arrays (``{"first", "second", "score"}``, whichever way the
        run stored them). An SSIM run stored before runs kept their eigen-gap count gets
        it from its stored spectrum, as its analysis would have stored it."""
        details = self.stored_details
        if "pairs" in details:
            details["pairs"] = ScoredPairs.columns_of(details["pairs"])
        if "spectrum" in details and "eigengap_clusters" not in details:
            details["eigengap_clusters"] = clusters_from_spectrum(
                details["spectrum"], self.parameters.get("rule", SSIMParameters.rule), self.parameters.get("gamma", SSIMParameters.gamma)
            )
        return details

    @property
    def fields(self):
        """The sample fields this run wrote."""
        return list(self._results.fields)

    def view(self, statuses=None):
        """Samples of the run, optionally only those whose status is in ``statuses``."""
        status_field = f"{self.key}_status"
        view = self.dataset.exists(status_field)
        if statuses is not None:
            statuses = [statuses] if isinstance(statuses, str) else list(statuses)
            unknown = set(statuses) - set(STATUSES)
            if unknown:
                raise ValueError(f"unknown statuses {sorted(unknown)}; use {STATUSES}")
            view = view.match(F(status_field).is_in(statuses))
        return view

    def groups_view(self):
        """Samples in groups, group by group (largest first), each representative first."""
        return _groups_view(self.dataset, self.key)

    def _in_groups(self):
        return self.dataset.match(F(f"{self.key}_group") >= 0)

    def group_view(self, group):
        """One group's samples, representative first."""
        return self.groups_view().match(F(f"{self.key}_group") == int(group))

    def least_similar_view(self):
        """Split-similarity runs: the test samples least similar to all training
        samples, least similar first."""
        if "least_similar_view" not in self.method_info.views:
            raise ValueError(f"run {self.key!r} is a {self.method} run; only split-similarity runs rank test samples")
        return self.dataset.select(self.details["least_similar_ids"], ordered=True)

    def group_sizes(self):
        """``{group number: size}`` for every group of 2+ samples."""
        return self._in_groups().count_values(f"{self.key}_group")

    def label_field(self):
        """The run's label field, or None when it had none or the field is gone since."""
        name = self.parameters.get("label_field")
        return name if name and self.dataset.has_sample_field(name) else None

    def largest_groups(self):
        """Group numbers, largest group first (ties by number): the panel's table order."""
        return _largest_first(self.group_sizes())

    def group_rows(self, limit=None):
        """One row per group of 2+ samples, largest first: ``{"group", "size", "labels",
        "kind", "representative"}`` (its file, by a name no other member shares). The kind follows the stored decision (a group of
        influential samples mixes labels), so it holds even if the label field is gone;
        mixed-label groups have no representative."""
        view = self._in_groups()
        groups, statuses, paths = view.values([f"{self.key}_group", f"{self.key}_status", "filepath"])
        labels = read_labels(view, self.label_field()) or [None] * len(groups)
        members = {}
        for group, status, name, label in zip(groups, statuses, distinct_names(paths), labels):
            row = members.setdefault(group, {"size": 0, "labels": set(), "representative": "", "mixed": False})
            row["size"] += 1
            row["mixed"] |= status == INFLUENTIAL
            row["labels"].add("(none)" if label is None else str(label))
            if status == REPRESENTATIVE:
                row["representative"] = name
        rows = []
        sizes = {group: row["size"] for group, row in members.items()}
        for group in _largest_first(sizes)[:limit]:
            distinct = sorted(members[group]["labels"])
            rows.append({
                "group": group,
                "size": members[group]["size"],
                "labels": ", ".join(distinct),
                "kind": "mixed labels" if members[group]["mixed"] else "same label",
                "representative": members[group]["representative"] or "—",
            })  # fmt: skip
        return rows

    def map_columns(self):
        """What the embedding map draws, aligned with the stored projection:
        ``(sample ids, 2-D points, 3-D points or None, statuses, representative ids,
        labels or None)``, without samples deleted since the run."""
        details = self.details
        view = self.view()
        ids, statuses, representatives = view.values(
            ["id", f"{self.key}_status", f"{self.key}_representative"]
        )
        row_of = {sample_id: row for row, sample_id in enumerate(ids)}
        kept = [i for i, sample_id in enumerate(details["sample_ids"]) if sample_id in row_of]
        rows = [row_of[details["sample_ids"][i]] for i in kept]
        labels = read_labels(view, self.label_field())
        points_3d = details["points_3d"] if self.method_info.map_3d else None
        return (
            [ids[row] for row in rows],
            [details["points"][i] for i in kept],
            None if points_3d is None else [points_3d[i] for i in kept],
            [statuses[row] for row in rows],
            [representatives[row] for row in rows],
            None if labels is None else [labels[row] for row in rows],
        )

    def summary(self):
        """A few readable lines: counts per status, what was found before the pair score,
        what was repaired or has changed since, and the time it took."""
        total = sum(self.counts.values())
        lines = [f"run {self.key!r} ({self.method}) on {total} samples:"]
        for status in STATUSES:
            count = self.counts.get(status, 0)
            lines.append(f"  {status:<15}{count:>7}  ({100.0 * count / max(total, 1):5.1f}%)")
        identical = getattr(self._results, "identical", None)
        if identical and any(identical.values()):
            lines.append(f"  identical to another image: {identical['identical']:,}; one colour (blank): {identical['constant']:,}")
        repaired = getattr(self._results, "repaired", None)
        if repaired:
            lines.append(f"  {len(repaired):,} image(s) had NaN or infinite pixels, read as their lowest value (details['repaired'])")
        orphans = self.orphaned()
        if orphans:
            lines.append(
                f"  {orphans:,} redundant sample(s) point at a representative deleted since the run: "
                "the curated view keeps one member of each such family; run the analysis again to choose anew"
            )
        lines.append(f"  time: {sum(self.timings.values()):.1f} s ({_format_timings(self.timings)})")
        return "\n".join(lines)

    def orphaned(self):
        """How many redundant samples point at a representative no longer in the dataset."""
        representatives = set(self.view([REDUNDANT]).distinct(f"{self.key}_representative")) - {None}
        if not representatives:
            return 0
        from bson import ObjectId

        present = set(self.dataset.select([ObjectId(i) for i in representatives]).values("id"))
        missing = list(representatives - present)
        return self.dataset.match(F(f"{self.key}_representative").is_in(missing)).count() if missing else 0

    def __repr__(self):
        return f"<RedundancyRun {self.key!r} method={self.method!r} counts={self.counts}>"


def _largest_first(sizes):
    """Group numbers by size, largest first, ties by number: one order for table and clicks."""
    return sorted(sizes, key=lambda group: (-sizes[group], group))


def _format_timings(timings):
    return ", ".join(f"{stage} {seconds:.2f} s" for stage, seconds in timings.items())
