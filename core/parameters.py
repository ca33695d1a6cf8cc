"""Parameters declared once, in their dataclass fields (``declared``, ``declared_choice``,
``declared_flag``, ``declared_text``: default, constraints, words, when they apply), and
the checks every analysis shares, so each refuses a bad value (wrong type, NaN, infinity,
out of range, not a choice) with the same message and each form offers what the
declaration says."""

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


def declared(default, label, description=None, when=None, offered=True, named=None, **bounds):
    """A numeric parameter declared once, in its dataclass field: its default, its bounds
    (``check_number``'s keywords) and the words a form shows for it, as scikit-learn's
    parameter constraints sit beside the class. ``check_declared`` checks the bounds; the
    operators' forms build their input from the same field (``operators.forms``), so
    neither retypes a bound or a label.

    ``when=(other, value)``: the parameter applies only while the parameter ``other``
    holds ``value`` (the form shows it then); ``offered=False``: checked, never offered
    by a form; ``named``: the parameter as its error messages name it."""
    return _declaration(default, "number", label, description, when, offered, bounds=bounds, named=named or None)


def declared_choice(default, choices, label, description=None, when=None, offered=True, radio=False):
    """A parameter that takes one of ``choices`` (the module's ``{value: words}`` table),
    declared as ``declared`` declares a number; ``radio``: the form shows every choice at
    once rather than a dropdown."""
    return _declaration(default, "choice", label, description, when, offered, choices=choices, radio=radio)


def declared_flag(default, label, description=None, when=None, offered=True):
    """A True/False parameter, declared as ``declared`` declares a number."""
    return _declaration(default, "flag", label, description, when, offered)


def declared_text(default, label, description=None, when=None, offered=True):
    """A text parameter, declared as ``declared`` declares a number; its dataclass checks
    the text itself (e.g. a wavelet name against PyWavelets' list)."""
    return _declaration(default, "text", label, description, when, offered)


def _declaration(default, kind, label, description, when, offered, **constraints):
    words = {"kind": kind, "label": label, "description": description, "when": when, "offered": offered}
    return dataclasses.field(default=default, metadata={**words, **constraints})


def declarations(parameters):
    """The declared fields of a parameters dataclass, in field order (the form's order)."""
    return [item for item in dataclasses.fields(parameters) if "kind" in item.metadata]


def applies(parameters, item, values):
    """Whether the declared field ``item`` of ``parameters`` applies when the parameters
    hold ``values`` (a mapping; one missing or None holds its default): a field declared
    ``when=(other, value)`` applies only while ``other`` holds ``value``."""
    if item.metadata["when"] is None:
        return True
    other, value = item.metadata["when"]
    held = values.get(other)
    return (getattr(parameters, other) if held is None else held) == value


def check_declared(parameters):
    """Check every declared field of a parameters dataclass: a number against its bounds
    (whole numbers become ``int``; None passes where it is the default, an optional
    value), a choice against its table, a flag for True or False."""
    for item in declarations(parameters):
        value, words = getattr(parameters, item.name), item.metadata
        if words["kind"] == "number" and (value is not None or item.default is not None):
            setattr(parameters, item.name, check_number(words["named"] or item.name, value, **words["bounds"]))
        elif words["kind"] == "choice":
            check_choice(item.name, value, words["choices"])
        elif words["kind"] == "flag":
            check_flag(item.name, value)


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
