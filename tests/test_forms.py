"""Parameters declared once: each analysis' form is built from its parameters dataclass's
declarations (default, bounds or choices, words, when each applies), and reads back the
bridge arguments of exactly the fields it offered, so a new field needs no form code."""

import inspect
from dataclasses import dataclass

import fiftyone.operators.types as types
import pytest
from fiftyone.operators.executor import ExecutionContext
from fiftyone.operators.registry import OperatorRegistry

from fiftyone_redundancy.bridge.methods import METHODS
from fiftyone_redundancy.core.parameters import (
    check_declared,
    declarations,
    declared,
    declared_choice,
    declared_flag,
    declared_text,
)
from fiftyone_redundancy.operators.forms import parameter_arguments, parameter_inputs

PLUGIN = "@fiftyone-redundancy/redundancy"


def form(dataset, method, params):
    """The properties of ``method``'s operator form (named as its function) as the App receives them."""
    operator = OperatorRegistry().get_operator(f"{PLUGIN}/{method.function_name}")
    ctx = ExecutionContext(request_params={"dataset_name": dataset.name, "params": params})
    return operator.resolve_input(ctx).to_json()["type"]["properties"]


def offered_fields():
    return [
        (method, item) for method in METHODS.values() for item in declarations(method.parameters)
        if item.metadata["offered"]
    ]  # fmt: skip


def expected_input(item):
    """What the App must receive for a declared field: its default, its words, and its
    bounds or choices."""
    words = item.metadata
    if words["kind"] == "number":
        bounds = words["bounds"]
        return {"min": bounds.get("at_least", bounds.get("above")), "max": bounds.get("at_most", bounds.get("below")),
                "int": bool(bounds.get("integer"))}  # fmt: skip
    if words["kind"] == "choice":
        return {"values": list(words["choices"])}
    return {"name": {"flag": "Boolean", "text": "String"}[words["kind"]]}


@pytest.mark.parametrize("method,item", offered_fields(), ids=lambda value: getattr(value, "name", ""))
def test_every_declared_parameter_is_in_its_analysis_form_as_declared(small_demo_dataset, method, item):
    """Each offered field of an analysis' parameters dataclass is in its operator's form
    (once its ``when`` holds) with the declared default, label, bounds or choices; a field
    whose ``when`` does not hold is left out."""
    when = item.metadata["when"]
    shown = form(small_demo_dataset, method, dict([when]) if when else {})
    assert item.name in shown, f"{method.operator} does not offer {item.name}"
    assert shown[item.name]["default"] == item.default
    assert shown[item.name]["view"]["label"] == item.metadata["label"]
    assert {key: shown[item.name]["type"][key] for key in expected_input(item)} == expected_input(item)
    if when:
        choices = next(other for other in declarations(method.parameters) if other.name == when[0]).metadata["choices"]
        for value in choices:
            if value != when[1]:
                assert item.name not in form(small_demo_dataset, method, {when[0]: value})


@pytest.mark.parametrize("method,item", offered_fields(), ids=lambda value: getattr(value, "name", ""))
def test_what_a_form_reads_back_is_an_argument_of_its_analysis_with_the_declared_default(method, item):
    """The form hands each offered field to the analysis' function by its name: the
    function must take it, with the declaration's default (read by its signature)."""
    arguments = inspect.signature(method.load_function()).parameters
    assert item.name in arguments, f"{method.function_name} takes no {item.name}: add it to its signature and docstring"
    assert arguments[item.name].default == item.default


def test_each_form_offers_its_declared_parameters_in_field_order(small_demo_dataset):
    for method in METHODS.values():
        shown = list(form(small_demo_dataset, method, {}))
        declared_names = [item.name for item in declarations(method.parameters)]
        assert [name for name in shown if name in declared_names] == [
            item.name for item in declarations(method.parameters) if item.metadata["offered"] and item.name in shown
        ] != []


@dataclass
class Throwaway:
    """A parameters dataclass no form knows of, with a field of every kind."""

    grouping: str = declared_choice("tight", {"tight": "Tight groups", "loose": "Loose groups"}, "Grouping", radio=True)
    spread: float = declared(0.5, "Spread", "How far a loose group reaches", when=("grouping", "loose"), at_least=0, at_most=1)
    verbose: bool = declared_flag(False, "Say more")
    prefix: str = declared_text("dup", "Tag prefix")
    seed: int = declared(0, "Seed", integer=True, at_least=0, offered=False)

    def __post_init__(self):
        check_declared(self)


def built(params):
    ctx = ExecutionContext(request_params={"params": params})
    inputs = types.Object()
    names = parameter_inputs(inputs, ctx, Throwaway)
    return names, inputs.to_json()["properties"], parameter_arguments(ctx, Throwaway)


def test_a_field_added_to_a_dataclass_gets_its_input_and_its_argument_with_no_other_code():
    names, shown, arguments = built({})
    assert names == list(shown) == ["grouping", "verbose", "prefix"]  # spread waits for "loose"; seed is not offered
    assert shown["grouping"]["type"]["values"] == ["tight", "loose"] and shown["grouping"]["view"]["name"] == "RadioGroup"
    assert shown["prefix"]["default"] == "dup" and shown["verbose"]["view"]["label"] == "Say more"
    assert arguments == {}  # nothing held yet: the API's defaults stand

    names, shown, arguments = built({"grouping": "loose", "spread": 0.8, "verbose": True, "seed": 7})
    assert names == ["grouping", "spread", "verbose", "prefix"]
    assert shown["spread"]["type"]["min"] == 0 and shown["spread"]["type"]["max"] == 1
    assert shown["spread"]["view"]["description"] == "How far a loose group reaches"
    assert arguments == {"grouping": "loose", "spread": 0.8, "verbose": True}  # seed: not a field the form offered
    assert Throwaway(**arguments).spread == 0.8


@pytest.mark.parametrize(
    "arguments,message",
    [
        (dict(grouping="wide"), r"grouping must be one of \('tight', 'loose'\), got 'wide'"),
        (dict(spread=1.5), "spread must be at most 1, got 1.5"),
        (dict(verbose="yes"), "verbose must be True or False, got 'yes'"),
        (dict(seed=-1), "seed must be at least 0, got -1"),
    ],
)
def test_the_same_declaration_checks_the_value(arguments, message):
    with pytest.raises(ValueError, match=message):
        Throwaway(**arguments)
