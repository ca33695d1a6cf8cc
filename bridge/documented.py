"""Brain-style docstrings whose defaults come from the code: each public function lists
its arguments under ``Args:`` as ``name: meaning``, and ``documented`` writes in the
default, ``name (default): meaning``, from the signature (which reads the parameters
dataclasses), so no default is written twice and none drifts. An argument many functions
share (``dataset``, ``progress``, ``overwrite``...) is described once, in ``SHARED``:
a function's ``Args:`` leaves it out unless it means something else there."""

import inspect
import re

ARGUMENT = re.compile(r"^ {8}(\w+): ", re.MULTILINE)
"""An argument's first line under ``Args:`` of a module-level function's docstring (its
further lines are indented by 12)."""

SHARED = {
    "dataset": "a FiftyOne dataset",
    "samples": "a FiftyOne dataset or view of images",
    "key": "the run's key (its fields are named after it)",
    "keys": "the keys of the runs whose statuses decide (one key or a list)",
    "label_field": """a ``Classification`` field; groups whose members' labels differ are
            ``influential``. None treats every sample as one label""",
    "image_size": "the size images are resized to, an int (square) or ``(width, height)``",
    "color": '"rgb" or "gray"',
    "embeddings_field": """a field of embedding vectors that adds candidates and its cosine
            to the pair score""",
    "num_workers": "the processes that decode images",
    "skip_failures": """leave unreadable images out (listed in the run's ``skipped``)
            instead of raising an error naming the first""",
    "progress": """FiftyOne's: None/True/False, or a callback made with
            ``fo.report_progress``""",
    "overwrite": """replace a run under ``key`` that covers samples outside ``samples``
            (they would lose its fields); a re-run on the same samples (or more)
            replaces the run either way""",
    "similarity_config": """that backend's settings (e.g. ``{"uri": ...}`` for LanceDB);
            None: the brain config's""",
    "architecture": """a torchvision architecture name (e.g. "resnet18") for the state dict
            in ``model_path``""",
    "num_classes": "the number of classes of that checkpoint, when not torchvision's",
    "trust_model_file": """load a ``model_path`` holding a pickled model (``torch.save(model)``),
            which runs any code the file carries; leave False for files you did not
            write: TorchScript and state dicts load without it""",
    "normalize": '''"imagenet" (ImageNet's channel statistics, as torchvision models expect)
            or "none"''',
    "exclude": "the statuses that exclude a sample",
    "combine": """"union" (drop a sample that any run marks) or "intersection" (only one
            that every run marks, e.g. what both the wavelet and the SSIM run call
            redundant)""",
    "tag_names": "``{status: tag}`` for tags other than the status names",
    "update_folder": """a folder where the run keeps its decoded images and the score of
            every pair it verified (in a subfolder its record names, deleted with the
            run), so that :func:`update_run` can bring it up to date after samples are
            added, removed or changed, decoding only those; None: the run keeps nothing.
            Such a run holds its images in memory, with the blocked candidate search""",
}
"""What an argument of this name means wherever a function does not say otherwise."""


def documented(function):
    """``function`` with its arguments' descriptions (its own, else ``SHARED``'s) in
    signature order, each with its default; refuses (at import) a function with an
    argument described neither way."""
    arguments = inspect.signature(function).parameters
    head, marker, rest = function.__doc__.partition("    Args:\n")
    args, returns, tail = rest.partition("    Returns:\n")
    starts = list(ARGUMENT.finditer(args))
    own = {
        match.group(1): args[match.end() : starts[i + 1].start() if i + 1 < len(starts) else len(args)].rstrip()
        for i, match in enumerate(starts)
    }
    missing = [name for name in arguments if name not in own and name not in SHARED]
    if not marker or missing:
        raise TypeError(f"the docstring of {function.__name__} does not document {missing or 'its arguments'}")

    def line(name):
        default = arguments[name].default if name in arguments else inspect.Parameter.empty
        shown = name if default is inspect.Parameter.empty else f"{name} ({default!r})"
        return f"        {shown}: {own[name] if name in own else SHARED[name]}\n"

    names = list(arguments) + [name for name in own if name not in arguments]
    function.__doc__ = head + marker + "".join(map(line, names)) + ("\n" + returns + tail if returns else "")
    return function
