"""Checks of numeric parameters, shared by the parameter dataclasses so every analysis
refuses a bad value (wrong type, NaN, infinity, out of range) with the same message."""

import dataclasses
import difflib
import math
import numbers


def check_number(name, value, integer=False, at_least=None, above=None, at_most=None, below=None):
    """Refuse, naming the parameter, a value that is not a finite number (a whole number
    when ``integer``; booleans are neither) inside the given bounds. Returns the value,
    as an ``int`` when ``integer``."""
    kind = "whole number" if integer else "number"
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite {kind}, got {value!r}")
    if integer and value != int(value):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    for bound, holds, words in (
        (at_least, lambda b: value >= b, "at least"),
        (above, lambda b: value > b, "greater than"),
        (at_most, lambda b: value <= b, "at most"),
        (below, lambda b: value < b, "less than"),
    ):
        if bound is not None and not holds(bound):
            raise ValueError(f"{name} must be {words} {bound}, got {value!r}")
    return int(value) if integer else value


def check_names(name, given, valid):
    """Refuse a dict ``given`` (settings passed as ``name``) with a key outside ``valid``,
    naming the valid keys and the one closest to the mistyped key."""
    if not isinstance(given, dict):
        raise ValueError(f"{name} must be a dict of settings among {sorted(valid)}, got {given!r}")
    unknown = [key for key in given if key not in valid]
    if unknown:
        close = difflib.get_close_matches(str(unknown[0]), [str(key) for key in valid], n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ";"
        raise ValueError(f"{name} has no setting {unknown[0]!r}{hint} its settings are {sorted(valid)}")
    return given


def declared(default, label, description=None, **bounds):
    """A numeric parameter declared once, in its dataclass field: its default, its bounds
    (``check_number``'s keywords) and the words a form shows for it. ``check_declared``
    checks the bounds; the operators' forms build their input from the same field
    (``operators.forms.declared_input``), so neither retypes a bound or a label."""
    return dataclasses.field(default=default, metadata={"label": label, "description": description, "bounds": bounds})


def check_declared(parameters):
    """Check every ``declared`` field of a parameters dataclass against its bounds (whole
    numbers become ``int``); None passes where it is the default (an optional value)."""
    for item in dataclasses.fields(parameters):
        if "bounds" in item.metadata:
            value = getattr(parameters, item.name)
            if value is not None or item.default is not None:
                setattr(parameters, item.name, check_number(item.name, value, **item.metadata["bounds"]))


def check_choice(name, value, choices):
    """Refuse a value that is not one of ``choices`` (a ``{value: words}`` table, as each
    module defines its options for the forms to offer)."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")
    return value


def check_flag(name, value):
    """Refuse anything but True or False (a string "false" would read as true)."""
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return value
