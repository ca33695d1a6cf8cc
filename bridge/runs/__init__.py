"""Stored runs of this plugin: fields on samples plus a FiftyOne run record.

Every analysis writes the DESIGN.md contract for each sample of the analysed view,
``{key}_status``, ``{key}_group``, ``{key}_representative`` and ``{key}_score``, and
registers a run whose config carries ``method`` (``redundancy.<analysis>``) and the
parameters, and whose results carry counts, timings and the panel's projection.

Its modules import one way, each only those before it: ``faults`` (errors, fault
injection), ``contract`` (the names and values a run owns), ``keys`` (checks on a key),
``transaction`` (the crash-safe write engine), ``tables`` (what the panels draw),
``record`` (``RedundancyRun``, the reader), ``lifecycle`` (store, re-cut, rename, delete).
This package re-exports their public names.
"""

from .faults import (
    ReplacementRefused,
    RunCancelled,
    RunInProgressError,
    checkpoint,
)
from .contract import (
    COMMIT_FILES,
    UPDATE_STORE_FILES,
    ENDINGS,
    EXTRA_SUFFIXES,
    FIELD_TYPES,
    LEASES,
    METHOD_PREFIX,
    REVIEWS,
    STAGING_LEDGER,
    STAGING_PREFIX,
    json_ready,
    map_brain_key,
    method_words,
    parameters_record,
    review_view_name,
    run_fields,
)
from .keys import (
    check_key_name,
    check_replacement,
    require_dataset,
    samples_outside,
    validate_key,
)
from .transaction import (
    CANCEL_POLL_SECONDS,
    COMMIT_PHASES,
    COMMIT_TEXT_LIMIT,
    DEAD_WRITER_GRACE_SECONDS,
    LEASE_SECONDS,
    PROGRESS_NOTE_SECONDS,
    RunWriter,
    cancel_run,
    holding,
    recover,
    runs_in_progress,
    stray_staging_fields,
)
from .record import (
    RedundancyRun,
    list_runs,
    method_of,
    require_run,
)
from .lifecycle import (
    WRITE_BATCH,
    add_fields,
    delete_run,
    record_ending,
    rename_in_place,
    rename_run,
    store_changes,
    store_run,
    unstored_endings,
    update_results,
    write_columns,
)
