"""Bounds on the work a client's JSON Schema can cause.

A response schema is data from the client, and everything it makes us do — expand `$ref`s,
build an instance, match patterns, validate — must stay bounded, or one request can hold a
worker for ever. So: `check_schema_bounds` refuses, when the job is created, schemas that
expand too far, nest too deep, demand huge instances, use patterns RE2 cannot run, or can
never be satisfied in a way that is cheap to see; `SafeValidator` validates with RE2 (which
never backtracks); and `schema_work` puts a node counter and a deadline on filling and
validating, so what slips through ends in a `SchemaUnsatisfiable` instead of a hang.
"""

from __future__ import annotations

import contextvars
import functools
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError

from graph.providers.reasoning import TypedOutputError

MAX_SCHEMA_NODES = 2_000  # subschemas visited with every `$ref` expanded
MAX_SCHEMA_NESTING = 24  # subschema levels with every `$ref` expanded
MAX_INSTANCE_SIZE = 100_000  # values + characters of the smallest instance we would build
MAX_PATTERN_CHARS = 1_000
MAX_ABS_NUMBER = 1e15
# Caps on the keywords that size an instance: a lower bound makes us build that much, an
# upper bound beyond these is not a bound anyone needs.
KEYWORD_CAPS = {
    "minItems": 100,
    "minProperties": 100,
    "minContains": 100,
    "minLength": 10_000,
    "maxItems": 10_000,
    "maxProperties": 10_000,
    "maxContains": 10_000,
    "maxLength": 1_000_000,
}
RANGES = (
    ("minItems", "maxItems"),
    ("minLength", "maxLength"),
    ("minProperties", "maxProperties"),
    ("minContains", "maxContains"),
)
NUMBER_KEYWORDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")
# Work allowed to fill and validate one object at run time.
FILL_MAX_NODES = 200_000
FILL_MAX_SECS = 10.0

_ONE_SCHEMA = (
    "items",
    "additionalProperties",
    "contains",
    "not",
    "if",
    "then",
    "else",
    "propertyNames",
    "unevaluatedItems",
    "unevaluatedProperties",
    "contentSchema",
)
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SCHEMA_MAPS = ("properties", "patternProperties", "dependentSchemas")
_DEFINITIONS = ("$defs", "definitions")


class SchemaProblem(ValueError):
    """A schema refused at creation: `keyword` at JSON pointer `path` (of the schema)."""

    def __init__(self, keyword: str, path: str, message: str):
        super().__init__(f"{keyword} at {path or '/'}: {message}")
        self.keyword = keyword
        self.path = path or "/"
        self.message = message


class SchemaUnsatisfiable(TypedOutputError):
    """No object satisfying the client's schema could be built within bounds: a failure caused
    by the client's input. Names the keyword and the instance path, never a value."""

    def __init__(self, keyword: str, path: str, message: str):
        super().__init__(f"the response schema cannot be satisfied: {keyword} at {path or '/'}: {message}")
        self.keyword = keyword
        self.path = path or "/"


# --- patterns on RE2 -------------------------------------------------------------------------


@functools.lru_cache(maxsize=1024)
def compiled_pattern(pattern: str):
    """The pattern compiled by RE2 (linear-time matching); raises ValueError if RE2 cannot."""
    import re2

    options = re2.Options()
    options.log_errors = False
    options.max_mem = 8 << 20
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        detail = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise ValueError(detail) from None


def pattern_matches(pattern: str, text: str) -> bool:
    return compiled_pattern(pattern).search(text) is not None


def _pattern(validator, pattern, instance, schema):
    if validator.is_type(instance, "string") and not pattern_matches(pattern, instance):
        yield ValidationError(f"does not match the pattern {pattern!r}")


def _pattern_properties(validator, pattern_properties, instance, schema):
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in pattern_properties.items():
        for key, value in instance.items():
            if pattern_matches(pattern, key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _additional_properties(validator, additional, instance, schema):
    if not validator.is_type(instance, "object"):
        return
    properties = schema.get("properties", {})
    patterns = list(schema.get("patternProperties", {}))
    extras = [
        key
        for key in instance
        if key not in properties and not any(pattern_matches(p, key) for p in patterns)
    ]
    if validator.is_type(additional, "object"):
        for key in extras:
            yield from validator.descend(instance[key], additional, path=key)
    elif not additional and extras:
        yield ValidationError(f"{len(extras)} additional properties are not allowed")


# --- a work budget for filling and validating ------------------------------------------------


class SchemaWork:
    """A node counter and a deadline shared by the filler and the validator."""

    def __init__(self, max_nodes: int = FILL_MAX_NODES, max_secs: float = FILL_MAX_SECS):
        self.max_nodes = max_nodes
        self.deadline = time.monotonic() + max_secs
        self.nodes = 0

    def tick(self, keyword: str, path: str) -> None:
        self.nodes += 1
        if self.nodes > self.max_nodes:
            raise SchemaUnsatisfiable(keyword, path, f"needs more than {self.max_nodes} steps to fill")
        if self.nodes % 256 == 0 and time.monotonic() > self.deadline:
            raise SchemaUnsatisfiable(keyword, path, "takes too long to fill and validate")


_current_work: contextvars.ContextVar[SchemaWork | None] = contextvars.ContextVar("schema_work", default=None)


@contextmanager
def schema_work(work: SchemaWork | None = None) -> Iterator[SchemaWork]:
    """Run filling/validation under one budget: the given one, the current one, or a fresh one.

    Open it around synchronous work only: the deadline would otherwise count model calls."""
    work = work or _current_work.get() or SchemaWork()
    token = _current_work.set(work)
    try:
        yield work
    finally:
        _current_work.reset(token)


def tick(keyword: str, path: str = "") -> None:
    """Count one step against the current budget, if any."""
    work = _current_work.get()
    if work is not None:
        work.tick(keyword, path)


def _counted(keyword: str, check):
    def counted(validator, value, instance, schema):
        tick(keyword)
        return check(validator, value, instance, schema) or ()

    return counted


_KEYWORDS = {
    **Draft202012Validator.VALIDATORS,
    "pattern": _pattern,
    "patternProperties": _pattern_properties,
    "additionalProperties": _additional_properties,
}
SafeValidator = validators.extend(
    Draft202012Validator, {name: _counted(name, check) for name, check in _KEYWORDS.items()}
)
"""Draft 2020-12 with RE2 patterns and every keyword counted against the current `schema_work`."""


def first_violation(schema: dict[str, Any], instance: Any) -> SchemaUnsatisfiable | None:
    """The first way `instance` breaks `schema`, named by keyword and path (never by value)."""
    with schema_work():
        errors = sorted(SafeValidator(schema).iter_errors(instance), key=lambda e: list(e.path))
    if not errors:
        return None
    error = errors[0]
    where = "/" + "/".join(str(p) for p in error.absolute_path)
    return SchemaUnsatisfiable(str(error.validator), where, f"the value breaks {error.validator}")


# --- the check at creation -------------------------------------------------------------------


def check_schema_bounds(schema: dict[str, Any]) -> None:
    """Refuse a (metaschema-valid) schema whose work is unbounded or that can never be met.

    Raises SchemaProblem naming the keyword and the schema path.
    """
    seen: set[str] = set()
    _static_checks(schema, "", seen)
    if {"unevaluatedProperties", "patternProperties"} <= seen:
        raise SchemaProblem(
            "unevaluatedProperties", "", "cannot be combined with patternProperties in a response schema"
        )
    _Expansion(schema).size(schema, "", 0, ())


def _pointer(path: str, *parts: Any) -> str:
    return path + "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def children(schema: dict[str, Any], path: str, *, definitions: bool) -> Iterator[tuple[str, str, Any]]:
    """(keyword, path, subschema) for each subschema of `schema`; `$defs` only if asked."""
    for keyword in _ONE_SCHEMA:
        if keyword in schema:
            yield keyword, _pointer(path, keyword), schema[keyword]
    for keyword in _SCHEMA_LISTS:
        for i, sub in enumerate(schema.get(keyword) or ()):
            yield keyword, _pointer(path, keyword, i), sub
    for keyword in _SCHEMA_MAPS + (_DEFINITIONS if definitions else ()):
        for name, sub in (schema.get(keyword) or {}).items():
            yield keyword, _pointer(path, keyword, name), sub


def _static_checks(schema: Any, path: str, seen: set[str]) -> None:
    """Per-subschema checks on the schema as written; collects the keywords it meets in `seen`."""
    if not isinstance(schema, dict):
        return
    _check_keywords(schema, path)
    seen.update(schema)
    for _keyword, sub_path, sub in children(schema, path, definitions=True):
        _static_checks(sub, sub_path, seen)


def _check_keywords(schema: dict[str, Any], path: str) -> None:
    for keyword, cap in KEYWORD_CAPS.items():
        value = schema.get(keyword)
        if isinstance(value, int | float) and value > cap:
            raise SchemaProblem(keyword, path, f"must be at most {cap}")
    for keyword in NUMBER_KEYWORDS:
        value = schema.get(keyword)
        if isinstance(value, int | float) and not isinstance(value, bool) and abs(value) > MAX_ABS_NUMBER:
            raise SchemaProblem(
                keyword, path, f"must be between -{MAX_ABS_NUMBER:.0e} and {MAX_ABS_NUMBER:.0e}"
            )
    step = schema.get("multipleOf")
    if isinstance(step, int | float) and 0 < step < 1e-9:
        raise SchemaProblem("multipleOf", path, "must be at least 1e-9")
    patterns = [("pattern", schema["pattern"])] if isinstance(schema.get("pattern"), str) else []
    patterns += [("patternProperties", key) for key in schema.get("patternProperties") or {}]
    for keyword, pattern in patterns:
        if len(pattern) > MAX_PATTERN_CHARS:
            raise SchemaProblem(keyword, path, f"patterns must be at most {MAX_PATTERN_CHARS} characters")
        try:
            compiled_pattern(pattern)
        except ValueError as exc:
            raise SchemaProblem(keyword, path, f"the pattern is not supported (RE2 syntax): {exc}") from None
    _check_satisfiable(schema, path)


def _check_satisfiable(schema: dict[str, Any], path: str) -> None:
    """The contradictions that are cheap to see in one subschema."""
    for low, high in RANGES:
        if (
            isinstance(schema.get(low), int)
            and isinstance(schema.get(high), int)
            and schema[low] > schema[high]
        ):
            raise SchemaProblem(low, path, f"is greater than {high}: no value can satisfy both")
    low = _number(schema, "minimum")
    high = _number(schema, "maximum")
    xlow = _number(schema, "exclusiveMinimum")
    xhigh = _number(schema, "exclusiveMaximum")
    if low is not None and high is not None and low > high:
        raise SchemaProblem("minimum", path, "is greater than maximum: no value can satisfy both")
    lowest = [(v, strict) for v, strict in ((low, False), (xlow, True)) if v is not None]
    highest = [(v, strict) for v, strict in ((high, False), (xhigh, True)) if v is not None]
    for lo, lo_strict in lowest:
        for hi, hi_strict in highest:
            if (lo_strict or hi_strict) and lo >= hi:
                keyword = "exclusiveMinimum" if lo_strict else "exclusiveMaximum"
                raise SchemaProblem(keyword, path, "leaves no number between the bounds")
    if "enum" in schema and isinstance(schema["enum"], list) and not schema["enum"]:
        raise SchemaProblem("enum", path, "is empty: no value can satisfy it")
    types = schema.get("type")
    allowed = [types] if isinstance(types, str) else types if isinstance(types, list) else None
    if allowed is not None and "const" in schema and not _has_type(schema["const"], allowed):
        raise SchemaProblem("const", path, f"is not of the schema's type {types!r}")
    enum = schema.get("enum")
    if (
        allowed is not None
        and isinstance(enum, list)
        and enum
        and not any(_has_type(v, allowed) for v in enum)
    ):
        raise SchemaProblem("enum", path, f"has no value of the schema's type {types!r}")
    properties = schema.get("properties") or {}
    closed = schema.get("additionalProperties") is False and not schema.get("patternProperties")
    for name in schema.get("required") or ():
        if properties.get(name) is False:
            raise SchemaProblem(
                "required", _pointer(path, "properties", name), "a required property is `false`"
            )
        if name not in properties and closed:
            raise SchemaProblem(
                "required", path, f"names {name!r}, which additionalProperties: false forbids"
            )


def _number(schema: dict[str, Any], keyword: str) -> float | None:
    value = schema.get(keyword)
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _has_type(value: Any, allowed: list[str]) -> bool:
    kinds = {
        "null": value is None,
        "boolean": isinstance(value, bool),
        "integer": (isinstance(value, int) and not isinstance(value, bool))
        or (isinstance(value, float) and value.is_integer()),
        "number": isinstance(value, int | float) and not isinstance(value, bool),
        "string": isinstance(value, str),
        "array": isinstance(value, list),
        "object": isinstance(value, dict),
    }
    return any(kinds.get(kind, False) for kind in allowed)


def resolve_ref(root: dict[str, Any], ref: str) -> Any:
    """A local JSON-pointer `$ref` ("#", "#/$defs/x"); KeyError if it points nowhere."""
    if ref != "#" and not ref.startswith("#/"):
        raise KeyError(ref)
    node: Any = root
    for part in ref[2:].split("/") if ref != "#" else ():
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise KeyError(ref)
    return node


class _Expansion:
    """Walks the schema as the filler would, `$ref`s expanded, counting what it visits."""

    def __init__(self, root: dict[str, Any]):
        self.root = root
        self.nodes = 0

    def size(self, schema: Any, path: str, depth: int, refs: tuple[str, ...]) -> int:
        """The size of the smallest instance we would build (values + characters), bounded."""
        self.nodes += 1
        keyword = "$ref" if refs else "response_schema"
        if self.nodes > MAX_SCHEMA_NODES:
            raise SchemaProblem(keyword, path, f"expands to more than {MAX_SCHEMA_NODES} subschemas")
        if depth > MAX_SCHEMA_NESTING:
            raise SchemaProblem(keyword, path, f"nests deeper than {MAX_SCHEMA_NESTING} levels")
        if not isinstance(schema, dict):
            return 1
        total = 1
        ref = schema.get("$ref")
        if isinstance(ref, str):
            total += self._ref(ref, path, depth, refs)
        if "$dynamicRef" in schema:
            raise SchemaProblem("$dynamicRef", path, "is not supported in a response schema")
        if isinstance(schema.get("minLength"), int):
            total += schema["minLength"]
        count = max(int(schema.get("minItems") or 0), 3)
        if isinstance(schema.get("maxItems"), int):
            count = min(count, schema["maxItems"])
        for keyword, sub_path, sub in children(schema, path, definitions=False):
            size = self.size(sub, sub_path, depth + 1, refs)
            total += size * count if keyword in ("items", "contains") else size
            if total > MAX_INSTANCE_SIZE:
                raise SchemaProblem(
                    keyword,
                    sub_path,
                    f"needs an instance larger than {MAX_INSTANCE_SIZE} values and characters",
                )
        return total

    def _ref(self, ref: str, path: str, depth: int, refs: tuple[str, ...]) -> int:
        if ref in refs:
            raise SchemaProblem("$ref", path, "is recursive; recursive response schemas are not supported")
        try:
            target = resolve_ref(self.root, ref)
        except KeyError:
            raise SchemaProblem(
                "$ref", path, "must be a JSON pointer (#/...) to a part of this schema"
            ) from None
        return self.size(target, ref[1:], depth + 1, (*refs, ref))
