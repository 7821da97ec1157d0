"""Hostile response schemas: refused at creation when their work is unbounded or they can never
be met; what is accepted fills and validates in bounded time, on RE2, or fails with a typed error."""

from __future__ import annotations

import time

import pytest

from graph.modes import InvalidResearchRequest, validate_response_schema
from graph.providers.offline import SchemaFiller
from graph.providers.reasoning import NumberedSource
from graph.response_schema import SafeValidator, SchemaUnsatisfiable, SchemaWork, schema_work


def doubling_chain(depth: int) -> dict:
    """Each level references the next twice: 2**depth subschemas once expanded, ~100 bytes a level."""
    defs = {
        f"d{i}": {
            "type": "object",
            "properties": {"a": {"$ref": f"#/$defs/d{i + 1}"}, "b": {"$ref": f"#/$defs/d{i + 1}"}},
        }
        for i in range(depth)
    }
    defs[f"d{depth}"] = {"type": "string"}
    return {"type": "object", "$defs": defs, "properties": {"root": {"$ref": "#/$defs/d0"}}}


def wide_chain(depth: int) -> dict:
    """The same doubling, shallow enough to pass the nesting cap: only the node count stops it."""
    defs = {f"d{i}": {"anyOf": [{"$ref": f"#/$defs/d{i + 1}"}] * 8} for i in range(depth)}
    defs[f"d{depth}"] = {"type": "string"}
    return {"type": "object", "$defs": defs, "properties": {"root": {"$ref": "#/$defs/d0"}}}


def prop(schema: dict, *, required: bool = False) -> dict:
    return {"type": "object", "properties": {"x": schema}, **({"required": ["x"]} if required else {})}


HOSTILE = [
    (doubling_chain(18), "$ref"),
    (wide_chain(6), "$ref"),
    (
        prop(
            {"type": "array", "minItems": 1_000_000_000, "items": {"type": "string", "minLength": 1_000_000}}
        ),
        "minItems",
    ),
    (prop({"type": "string", "minLength": 10_000_000}), "minLength"),
    (prop({"type": "object", "minProperties": 5000}), "minProperties"),
    (prop({"type": "array", "maxItems": 10**30}), "maxItems"),
    (
        prop(
            {
                "type": "array",
                "minItems": 60,
                "items": {"type": "array", "minItems": 60, "items": {"minLength": 100}},
            }
        ),
        "items",
    ),
    (prop({"type": "string", "pattern": "(a)\\1"}), "pattern"),
    (prop({"type": "string", "pattern": "(?=a)a"}), "pattern"),
    ({"type": "object", "patternProperties": {"(?<=x)y": {}}}, "patternProperties"),
    (prop({"type": "integer", "minimum": 5, "maximum": 1}), "minimum"),
    (prop({"type": "number", "exclusiveMinimum": 1, "maximum": 1}), "exclusiveMinimum"),
    (prop({"type": "array", "minItems": 3, "maxItems": 2}), "minItems"),
    (prop({"type": "string", "minLength": 3, "maxLength": 2}), "minLength"),
    (prop({"enum": []}), "enum"),
    (prop({"type": "string", "enum": [1, 2]}), "enum"),
    (prop({"type": "string", "const": 3}), "const"),
    ({"type": "object", "properties": {"x": False}, "required": ["x"]}, "required"),
    ({"type": "object", "additionalProperties": False, "required": ["x"]}, "required"),
    (prop({"$ref": "#/properties/x"}), "$ref"),
    (prop({"$ref": "#/$defs/missing"}), "$ref"),
    (prop({"type": "number", "maximum": 1e300}), "maximum"),
]


@pytest.mark.parametrize("schema, keyword", HOSTILE, ids=[k for _, k in HOSTILE])
def test_hostile_schemas_are_refused_at_once_naming_the_keyword_and_path(schema, keyword):
    started = time.monotonic()
    with pytest.raises(InvalidResearchRequest) as error:
        validate_response_schema(schema)
    assert time.monotonic() - started < 0.5
    assert error.value.field == "response_schema"
    assert error.value.message.startswith(f"{keyword} at /"), error.value.message


def test_the_doubling_chain_is_refused_within_its_node_budget_even_when_deep():
    started = time.monotonic()
    for depth in (16, 18, 30):
        with pytest.raises(InvalidResearchRequest, match=r"\$ref at /"):
            validate_response_schema(doubling_chain(depth))
    assert time.monotonic() - started < 1.0


def test_rich_but_reasonable_schemas_pass():
    validate_response_schema(doubling_chain(4))
    validate_response_schema(
        {
            "type": "object",
            "$defs": {
                "source": {"type": "object", "properties": {"url": {"type": "string", "format": "uri"}}}
            },
            "properties": {
                "score": {"type": "number", "minimum": 0, "maximum": 10, "multipleOf": 0.5},
                "code": {"type": "string", "pattern": "^[A-Z]{3}-\\d+$", "maxLength": 40},
                "tags": {"type": "array", "minItems": 1, "maxItems": 20, "items": {"enum": ["a", "b"]}},
                "sources": {"type": "array", "items": {"$ref": "#/$defs/source"}},
                "extra": {"type": "object", "patternProperties": {"^x-": {"type": "string"}}},
            },
            "required": ["score", "code"],
        }
    )


def test_a_catastrophic_pattern_is_accepted_and_matched_in_linear_time():
    schema = prop({"type": "string", "pattern": "^(a+)+$"})
    validate_response_schema(schema)
    started = time.monotonic()
    errors = list(SafeValidator(schema).iter_errors({"x": "a" * 50_000 + "!"}))
    assert time.monotonic() - started < 0.5
    assert [e.validator for e in errors] == ["pattern"]
    assert "aaaa" not in errors[0].message  # the value is not echoed


def filler() -> SchemaFiller:
    source = NumberedSource(n=1, url="https://example.org/a", title="A", claims=["The secret figure is 42."])
    return SchemaFiller("What is the figure?", "The figure is 42 [1].", [source])


def test_filling_runs_under_a_node_budget_and_fails_typed_instead_of_hanging():
    schema = doubling_chain(18)  # skipped the creation check, as a job stored before it would
    started = time.monotonic()
    with schema_work(SchemaWork(max_nodes=5_000)), pytest.raises(SchemaUnsatisfiable) as error:
        filler().fill_valid(schema)
    assert time.monotonic() - started < 2.0
    assert error.value.keyword == "fill"


def test_a_schema_the_filler_cannot_meet_fails_naming_keyword_and_path_without_values():
    schema = prop({"type": "string", "pattern": "^zz[0-9]{9}qq$"}, required=True)
    validate_response_schema(schema)
    with pytest.raises(SchemaUnsatisfiable) as error:
        filler().fill_valid(schema)
    assert (error.value.keyword, error.value.path) == ("pattern", "/x")
    assert "42" not in str(error.value) and "secret" not in str(error.value)
