"""What users do with a run's decisions: tag for review, override a representative, build
the curated view (one run, or the union/intersection of several), export it with a
manifest of what was left out, and (only when confirmed) delete.

Its modules import one way: ``views`` (what runs mark, kept and excluded), ``tags`` (review
tags, a representative chosen by hand), ``manifest`` (the CSV of what is left out, and the
deletion it records), ``export`` (the curated view written to a folder). This package
re-exports their public names.
"""

from .views import (
    COMBINE,
    EXCLUDED_STATUSES,
    TAGGED_STATUSES,
    UNION,
    curated_view,
    excluded_view,
)
from .tags import (
    set_representative,
    tag_preview,
    tag_samples,
    untag_samples,
)
from .manifest import (
    FORMULA_STARTS,
    MANIFEST_COLUMNS,
    delete_excluded,
    spreadsheet_safe,
    write_manifest,
)
from .export import (
    EXPORT_FORMATS,
    EXPORT_RECORD,
    EXPORT_WORKSPACES,
    EXPORT_WRITER,
    ExportRefused,
    FOLDER_NAME_LIMIT,
    export_curated,
    export_dir_problem,
    label_folders,
    safe_folder_name,
)
