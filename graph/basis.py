"""Per-field basis of a typed object: for every leaf (nested objects and array elements
included), the claims that support its value and how strongly.

Deterministic for every reasoner: a value is matched to claims by BM25 over their terms, and
only claims whose quote supports the value are cited (a number must occur in the quote, a text
must be entailed by it). Confidence is `high` when the value appears verbatim in a quote or two
sources support it, `medium` when one does, `low` when none does — and then a custom schema's
field is nulled where the schema allows null (`null_unsupported`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from graph.providers.text import BM25, clip, sentences, squash, terms
from graph.quantities import quantities
from graph.response_schema import first_violation
from graph.state import Claim, SourceMeta
from graph.support import entailed

QUOTE_CHARS = 500
MAX_CITATIONS = 4
CONFIDENCE_ORDER = ("low", "medium", "high")
_CITATION_PATH = re.compile(r"(^|\.)citations\[\d+\]$")


def leaves(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """(path, value) of every leaf; paths read like `key_findings[0].claim`."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from leaves(item, f"{path}[{i}]")
    else:
        yield path, value


def build_basis(
    typed: Any, claims: list[Claim], sources: dict[str, SourceMeta], cited: list[str]
) -> list[dict[str, Any]]:
    claim_terms = [terms(f"{c['text']} {c['quote']}") for c in claims]
    index = BM25(claim_terms)
    basis = []
    for path, value in leaves(typed):
        if value is None:  # a field the evidence does not give: said so, not guessed
            basis.append(_entry(path, [], sources, "low"))
            continue
        if value == "":
            continue
        if _CITATION_PATH.search(path) and isinstance(value, int) and 1 <= value <= len(cited):
            url = cited[value - 1]
            supporting = [c for c in claims if c["url"] == url][:1]
            basis.append(_entry(path, supporting, sources, "high" if supporting else "medium"))
            continue
        basis.append(_match(path, value, claims, claim_terms, index, sources))
    return basis


def _match(
    path: str,
    value: Any,
    claims: list[Claim],
    claim_terms: list[list[str]],
    index: BM25,
    sources: dict[str, SourceMeta],
) -> dict[str, Any]:
    """Each sentence of the value is matched on its own; the field is as strong as its weakest one."""
    text = squash(str(value))
    field_terms = terms(re.sub(r"\[\d+\]", " ", path).replace(".", " ").replace("_", " "))
    parts = sentences(text, min_chars=1) if len(text) > 80 else []
    supporting: list[Claim] = []
    levels = []
    for part in parts or [text]:
        found, level = _support(part, field_terms, claims, claim_terms, index)
        levels.append(level)
        supporting += [c for c in found if c not in supporting]
    confidence = min(levels, key=CONFIDENCE_ORDER.index) if levels else "low"
    return _entry(path, supporting[:MAX_CITATIONS], sources, confidence)


def _support(
    text: str, field_terms: list[str], claims: list[Claim], claim_terms: list[list[str]], index: BM25
) -> tuple[list[Claim], str]:
    value_terms = set(terms(text))
    scores = index.scores(list(value_terms) + field_terms)
    ranked = [i for i in sorted(range(len(claims)), key=lambda i: (-scores[i], i)) if scores[i] > 0]
    best: list[int] = []
    for i in ranked:
        if len(best) == 2:
            break
        if all(claims[j]["url"] != claims[i]["url"] for j in best) and supports(claims[i]["quote"], text):
            best.append(i)
    if not best:
        return [], "low"
    needle = text.lower().rstrip(".!?")
    verbatim = len(needle) >= 3 and any(needle in squash(claims[i]["quote"]).lower() for i in best)
    return [claims[i] for i in best], "high" if verbatim or len(best) == 2 else "medium"


def supports(quote: str, value: str) -> bool:
    """A quote supports a value when it states the number, or entails the text."""
    try:
        number = float(value)
    except ValueError:
        return entailed(value, [quote])
    return any(number in (q.low, q.high) for q in quantities(quote))


def null_unsupported(typed: Any, basis: list[dict[str, Any]], schema: dict[str, Any]) -> Any:
    """Null every field no claim supports, where the schema still validates with null there."""
    for entry in basis:
        if entry["citations"] or entry["confidence"] != "low":
            continue
        steps = _steps(entry["field"])
        parent = typed
        for step in steps[:-1]:
            parent = parent[step]
        old = parent[steps[-1]]
        parent[steps[-1]] = None
        if first_violation(schema, typed) is not None:
            parent[steps[-1]] = old
    return typed


def _steps(path: str) -> list[str | int]:
    return [int(p) if p.isdigit() else p for p in re.findall(r"[^.\[\]]+", path)]


def _entry(
    path: str, supporting: list[Claim], sources: dict[str, SourceMeta], confidence: str
) -> dict[str, Any]:
    return {
        "field": path,
        "citations": [
            {
                "url": c["url"],
                "title": sources.get(c["url"], {}).get("title", c["url"]),
                "quote": clip(squash(c["quote"]), QUOTE_CHARS),
            }
            for c in supporting
        ],
        "confidence": confidence,
    }
