"""Brain-style docstrings whose defaults come from the code: each public function lists
its arguments under ``Args:`` as ``name: meaning``, and ``documented`` writes in the
default, ``name (default): meaning``, from the signature (which reads the parameters
dataclasses), so no default is written twice and none drifts."""

import inspect
import re

ARGUMENT = re.compile(r"^( {8})(\w+): ", re.MULTILINE)
"""An argument's line under ``Args:`` of a module-level function's docstring."""


def documented(function):
    """``function`` with its defaults written into its ``Args:``; refuses (at import) a
    function whose ``Args:`` leaves out one of its arguments."""
    arguments = inspect.signature(function).parameters
    head, marker, rest = function.__doc__.partition("    Args:\n")
    args, returns, tail = rest.partition("    Returns:\n")
    missing = [name for name in arguments if name not in {m.group(2) for m in ARGUMENT.finditer(args)}]
    if not marker or missing:
        raise TypeError(f"the docstring of {function.__name__} does not document {missing or 'its arguments'}")

    def with_default(match):
        default = arguments[match.group(2)].default if match.group(2) in arguments else inspect.Parameter.empty
        return match.group(0) if default is inspect.Parameter.empty else f"{match.group(1)}{match.group(2)} ({default!r}): "

    function.__doc__ = head + marker + ARGUMENT.sub(with_default, args) + returns + tail
    return function
