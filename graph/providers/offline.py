"""The offline reasoner: deterministic, extractive and honest — the embedded default and eval baseline.

It never invents text: queries are built from the question's own terms, findings are sentences
copied from the pages (BM25 against the query), the brief stitches those sentences together
with their citations, and the cast fills the schema from the best-matching sentences.
"""

from __future__ import annotations

import re
from typing import Any

from graph.providers.reasoning import (
    Critique,
    Extraction,
    Finding,
    NumberedSource,
    Page,
    StepBudget,
)
from graph.providers.text import BM25, bm25_scores, clip, sentence_spans, squash, terms
from graph.response_schema import (
    SafeValidator,
    first_violation,
    pattern_matches,
    resolve_ref,
    schema_work,
    tick,
)

_WORD = re.compile(r"[^\W_]+(?:-[^\W_]+)*", re.UNICODE)
_NUMBER = re.compile(r"-?\d+(?:[.,]\d+)?")
_QUESTION_WORDS = {
    "what",
    "which",
    "who",
    "whom",
    "when",
    "where",
    "why",
    "how",
    "is",
    "are",
    "does",
    "do",
    "can",
    "should",
    "explain",
    "describe",
    "compare",
    "tell",
    "give",
    "list",
}
ANSWER_SENTENCES = 3
RELEVANCE_FLOOR = 0.2  # findings scoring below this share of the best one stay out of the brief
KEY_FINDINGS = 8


def key_words(text: str) -> list[str]:
    """The question's content words in their original spelling, first occurrence order."""
    seen: dict[str, str] = {}
    for match in _WORD.finditer(text):
        word = match.group()
        stemmed = terms(word)
        if not stemmed or word.lower() in _QUESTION_WORDS:
            continue
        seen.setdefault(stemmed[0], word)
    return list(seen.values())


def rank_sentences(text: str, query_terms: list[str]) -> list[tuple[float, int, int]]:
    """(score, start, end) of every sentence of `text`, best first; spans are verbatim slices."""
    spans = sentence_spans(text)
    scores = bm25_scores(query_terms, [terms(text[a:b]) for a, b in spans])
    ranked = [(score, a, b) for score, (a, b) in zip(scores, spans, strict=False) if score > 0]
    ranked.sort(key=lambda item: (-item[0], item[1]))
    return ranked


class OfflineReasoner:
    """Extractive reasoning with no model and no network; every call is free and instant."""

    name = "offline"

    async def plan(self, question: str, count: int, budget: StepBudget | None = None) -> list[str]:
        return expand_queries(question, count)

    async def follow_ups(
        self,
        question: str,
        findings: list[str],
        done: list[str],
        count: int,
        budget: StepBudget | None = None,
    ) -> list[str]:
        return gap_queries(question, findings, done, count)

    async def extract(
        self, question: str, query: str, page: Page, max_findings: int, budget: StepBudget | None = None
    ) -> Extraction:
        wanted = terms(query) + terms(question)
        ranked = rank_sentences(page.text, wanted)
        if ranked:
            floor = ranked[0][0] * 0.35
            ranked = [r for r in ranked if r[0] >= floor]
        chosen = sorted(ranked[:max_findings], key=lambda r: r[1])
        findings = [Finding(text=squash(page.text[a:b]), quote=page.text[a:b]) for _, a, b in chosen]
        return Extraction(summary=summarise(page, terms(question)), findings=findings)

    async def write(
        self, question: str, sources: list[NumberedSource], notes: list[str], budget: StepBudget | None = None
    ) -> str:
        return extractive_brief(question, sources)

    async def critique(self, question: str, brief: str, budget: StepBudget | None = None) -> Critique:
        wanted = set(terms(" ".join(key_words(question))))
        covered = wanted & set(terms(brief))
        share = len(covered) / len(wanted) if wanted else 1.0
        has_citation = re.search(r"\[\d+\]", brief) is not None
        notes = []
        if not has_citation:
            notes.append("the brief cites no source")
        if share < 0.5:
            missing = sorted(wanted - covered)
            notes.append(f"the brief does not address: {', '.join(missing[:6])}")
        return Critique(answers_question=has_citation and share >= 0.5, notes=notes)

    async def cast(
        self,
        question: str,
        schema: dict[str, Any],
        brief: str,
        sources: list[NumberedSource],
        budget: StepBudget | None = None,
    ) -> tuple[Any, int]:
        return SchemaFiller(question, brief, sources).fill_valid(schema), 0

    def extraction_worst_case(self, question: str) -> int:
        return 0

    async def aclose(self) -> None:
        return None


def expand_queries(question: str, count: int) -> list[str]:
    """The question itself, then narrower queries built from its key terms."""
    question = squash(question)
    words = key_words(question)
    queries = [question]
    if len(words) > 1:
        queries.append(" ".join(words[:6]))
    by_weight = sorted(words, key=lambda w: (-len(w), words.index(w)))
    for i, first in enumerate(by_weight):
        for second in by_weight[i + 1 :]:
            queries.append(f"{first} {second}")
    for word in by_weight:
        queries.append(f"{word} overview")
    return _unique(queries)[:count]


def gap_queries(question: str, findings: list[str], done: list[str], count: int) -> list[str]:
    """Follow-up queries for the question's terms the findings cover least, then for related terms."""
    words = key_words(question)
    finding_terms = [set(terms(f)) for f in findings]
    coverage = {w: sum(1 for ft in finding_terms if terms(w)[0] in ft) for w in words}
    topic = max(words, key=lambda w: (coverage[w], len(w)), default="")
    done_set = {squash(d).lower() for d in done}
    queries = []
    for word in sorted(words, key=lambda w: (coverage[w], words.index(w))):
        if word != topic:
            queries.append(f"{topic} {word}".strip())
    related: dict[str, int] = {}
    question_terms = set(terms(question))
    for ft in finding_terms:
        for term in ft - question_terms:
            if len(term) > 3:
                related[term] = related.get(term, 0) + 1
    for term, _ in sorted(related.items(), key=lambda kv: (-kv[1], kv[0])):
        queries.append(f"{topic} {term}".strip())
    return [q for q in _unique(queries) if q.lower() not in done_set][:count]


def summarise(page: Page, question_terms: list[str], max_sentences: int = 2) -> str:
    """1-3 sentences from the page: the best match for the question, else its opening."""
    ranked = rank_sentences(page.text, question_terms)
    spans = sorted(ranked[:max_sentences], key=lambda r: r[1])
    chosen = [squash(page.text[a:b]) for _, a, b in spans]
    if not chosen:
        chosen = [squash(page.text[a:b]) for a, b in sentence_spans(page.text)[:max_sentences]]
    return clip(" ".join(chosen), 480) or clip(squash(page.text), 240) or page.title


def extractive_brief(question: str, sources: list[NumberedSource]) -> str:
    """Markdown: a short answer of the best-matching findings, then key findings, each cited [n]."""
    cited = [(claim, s.n) for s in sources for claim in s.claims]
    if not cited:
        return (
            f"No source read answered “{squash(question)}”. "
            "The search returned nothing usable within the budget."
        )
    scores = bm25_scores(terms(question), [terms(c) for c, _ in cited])
    floor = max(scores) * RELEVANCE_FLOOR
    order = [i for i in sorted(range(len(cited)), key=lambda i: (-scores[i], i)) if scores[i] >= floor]
    answer, used = [], set()
    for i in order:
        if len(answer) == ANSWER_SENTENCES:
            break
        claim, n = cited[i]
        if claim not in used:
            answer.append(_cited(claim, n))
            used.add(claim)
    findings, per_source = [], {}
    for i in order:
        claim, n = cited[i]
        if claim in used or per_source.get(n, 0) >= 2 or len(findings) == KEY_FINDINGS:
            continue
        per_source[n] = per_source.get(n, 0) + 1
        findings.append(f"- {_cited(claim, n)}")
        used.add(claim)
    parts = [" ".join(answer)]
    if findings:
        parts += ["", "## Key findings", "", *findings]
    return "\n".join(parts)


def _cited(text: str, n: int) -> str:
    """The sentence with its marker before the final stop: `... relevance [1].`"""
    text = squash(text)
    stop = text[-1] if text[-1:] in ".!?" else "."
    return f"{text.rstrip('.!?')} [{n}]{stop}"


def _unique(items: list[str]) -> list[str]:
    seen, out = set(), []
    for item in items:
        key = item.lower()
        if item and key not in seen:
            seen.add(key)
            out.append(item)
    return out


class SchemaFiller:
    """Builds an instance of a JSON Schema from the brief's findings, then checks it validates."""

    def __init__(self, question: str, brief: str, sources: list[NumberedSource]):
        self.question = question
        self.brief = brief
        self.sources = sources
        self.claims = [(claim, s) for s in sources for claim in s.claims]
        self.claim_terms = [terms(c) for c, _ in self.claims]
        self.index = BM25(self.claim_terms)
        self.root: dict[str, Any] = {}

    def fill_valid(self, schema: dict[str, Any]) -> Any:
        """Fill and validate within the current `schema_work` budget; SchemaUnsatisfiable if the
        result does not validate (its message names the keyword and path, never a value)."""
        self.root = schema
        with schema_work():
            value = self.fill(schema, "", 0)
            violation = first_violation(schema, value)
        if violation is not None:
            raise violation
        return value

    def best_claims(self, hint: str, skip: int = 0) -> list[tuple[str, NumberedSource]]:
        scores = self.index.scores(terms(hint) + terms(self.question))
        order = sorted(range(len(self.claims)), key=lambda i: (-scores[i], i))
        return [self.claims[i] for i in order][skip:]

    def fill(self, schema: Any, name: str, index: int) -> Any:
        tick("fill", f"/{name}" if name else "")
        if schema is True or not isinstance(schema, dict):
            return self.text_for(name, index)
        if "$ref" in schema and isinstance(schema["$ref"], str):
            return self.fill(self.resolve(schema["$ref"]), name, index)
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            return self.pick_enum(schema["enum"], name)
        for key in ("oneOf", "anyOf"):
            if key in schema:
                return self.first_valid(schema[key], name, index)
        if "allOf" in schema:
            merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
            for part in schema["allOf"]:
                part = self.resolve(part["$ref"]) if isinstance(part, dict) and "$ref" in part else part
                for key, value in (part or {}).items():
                    if key in ("properties", "$defs") and key in merged:
                        merged[key] = {**merged[key], **value}
                    elif key == "required" and key in merged:
                        merged[key] = list(dict.fromkeys([*merged[key], *value]))
                    else:
                        merged.setdefault(key, value)
            return self.fill(merged, name, index)
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "null")
        if kind is None:
            kind = "object" if "properties" in schema else "array" if "items" in schema else "string"
        return getattr(self, f"fill_{kind}", self.fill_string)(schema, name, index)

    def resolve(self, ref: str) -> Any:
        return resolve_ref(self.root, ref)

    def first_valid(self, options: list[Any], name: str, index: int) -> Any:
        for option in options:
            value = self.fill(option, name, index)
            if SafeValidator({**self.root, **(option if isinstance(option, dict) else {})}).is_valid(value):
                return value
        return self.fill(options[0], name, index) if options else None

    def pick_enum(self, values: list[Any], name: str) -> Any:
        texts = [str(v) for v in values]
        evidence = terms(" ".join(c for c, _ in self.best_claims(name)[:3]))
        scores = bm25_scores(evidence, [terms(t) for t in texts]) if evidence else [0.0] * len(values)
        best = max(range(len(values)), key=lambda i: (scores[i], -i)) if values else 0
        return values[best] if values else None

    def fill_object(self, schema: dict[str, Any], name: str, index: int) -> dict[str, Any]:
        props = schema.get("properties") or {}
        out = {key: self.fill(sub, key, index) for key, sub in props.items()}
        for key in schema.get("required") or ():
            if key not in out:
                extra = schema.get("additionalProperties")
                out[key] = self.fill(extra if isinstance(extra, dict) else {}, key, index)
        return out

    def fill_array(self, schema: dict[str, Any], name: str, index: int) -> list[Any]:
        items = schema.get("items", {})
        low = int(schema.get("minItems", 0))
        high = schema.get("maxItems")
        count = max(low, min(3, len(self.claims)))
        if high is not None:
            count = min(count, int(high))
        values = []
        for i in range(count):
            value = self.fill(items, name, i)
            if schema.get("uniqueItems") and value in values:
                continue
            values.append(value)
        return values

    def text_for(self, name: str, index: int) -> str:
        best = self.best_claims(name, skip=index)
        return squash(best[0][0]) if best else squash(self.question)

    def fill_string(self, schema: dict[str, Any], name: str, index: int) -> str:
        fmt = schema.get("format")
        best = self.best_claims(name, skip=index)
        if fmt in ("uri", "url", "iri"):
            return best[0][1].url if best else "about:blank"
        if fmt == "date":
            return "1970-01-01"
        if fmt == "date-time":
            return "1970-01-01T00:00:00Z"
        if fmt == "email":
            return "unknown@example.com"
        text = squash(best[0][0]) if best else squash(self.question)
        if name.lower() in ("title", "name", "source", "source_title") and best:
            text = best[0][1].title
        if name.lower() in ("summary", "answer", "conclusion") and self.brief:
            text = squash(re.sub(r"\s*\[\d+\]", "", self.brief.split("\n\n")[0]))
        if "maxLength" in schema:
            text = clip(text, int(schema["maxLength"]))
        pattern = schema.get("pattern")
        if pattern and not pattern_matches(pattern, text):
            candidates = [squash(c) for c, _ in best] + [
                m.group() for c, _ in best for m in _NUMBER.finditer(c)
            ]
            text = next((c for c in candidates if pattern_matches(pattern, c)), text)
        min_len = int(schema.get("minLength", 0))
        if len(text) < min_len:
            text = text.ljust(min_len, ".")
        return text

    def fill_number(self, schema: dict[str, Any], name: str, index: int) -> float | int:
        value: float = 0
        for claim, _ in self.best_claims(name, skip=index)[:3]:
            match = _NUMBER.search(claim)
            if match:
                value = float(match.group().replace(",", ""))
                break
        low = schema.get("minimum", schema.get("exclusiveMinimum"))
        high = schema.get("maximum", schema.get("exclusiveMaximum"))
        if low is not None and value < low:
            value = low + (1 if "exclusiveMinimum" in schema else 0)
        if high is not None and value > high:
            value = high - (1 if "exclusiveMaximum" in schema else 0)
        step = schema.get("multipleOf")
        if step:
            value = round(value / step) * step
        return value

    def fill_integer(self, schema: dict[str, Any], name: str, index: int) -> int:
        return round(self.fill_number(schema, name, index))

    def fill_boolean(self, schema: dict[str, Any], name: str, index: int) -> bool:
        scores = self.index.scores(terms(name))
        return any(score > 0 for score in scores)

    def fill_null(self, schema: dict[str, Any], name: str, index: int) -> None:
        return None
