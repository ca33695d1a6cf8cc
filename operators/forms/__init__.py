"""Form pieces shared by the operators: inputs, the checks that run while the user
types, and the readable result each operator ends with.

Its modules import one way: ``inputs`` (each input, its checks, and the bridge arguments
it becomes), ``summaries`` (the result each operator shows), ``execution`` (long work run
now or delegated, with progress, cancel and failures). This package re-exports their
public names.
"""

from .inputs import (
    LOCAL_RAY,
    NO_BACKEND,
    NO_EMBEDDINGS,
    NO_LABELS,
    REPLACE_LABEL,
    SCALE_OUT,
    api_defaults,
    backend_secrets,
    choice_input,
    declared_input,
    describe_run,
    fresh_key,
    label_field_input,
    label_field_param,
    pair_score_inputs,
    pair_score_params,
    parameter_arguments,
    parameter_inputs,
    ray_address_param,
    replace_param,
    run_choice_input,
    run_key_input,
    titled,
    runs_newest_first,
    scale_out_inputs,
    scale_out_params,
    update_folder_input,
    user_arguments,
)
from .summaries import (
    failure_summary,
    run_summary_markdown,
    split_summary_markdown,
    summary_output,
)
from .execution import (
    CANCEL_HINT,
    HEARTBEAT_SECONDS,
    PYTHON_OVERWRITE,
    PYTHON_SKIP,
    REPORT_SECONDS,
    analysis_run,
    analysis_steps,
    app_wording,
    delegable_config,
    failures_in_place,
    progress_reporter,
    stage_label,
)
