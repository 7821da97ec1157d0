"""The offline reasoner: deterministic, extractive and honest — the embedded default and eval baseline.

It never invents text: queries carry the question's key terms and anchors, findings are whole
sentences copied from the pages that bear on the question, the brief is those sentences chosen
per sub-question with redundancy removed (MMR), and the cast fills the schema from values parsed
out of the supporting quotes. What it cannot answer it says it cannot answer.
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
from graph.providers.text import BM25, clip, prose_spans, squash, terms
from graph.quantities import date_in, quantities, quantity_near
from graph.relevance import SENTENCE_BAR, Focus, focus_of, token_set, tokens
from graph.response_schema import (
    SafeValidator,
    first_violation,
    pattern_matches,
    resolve_ref,
    schema_work,
    tick,
)
from graph.support import entailed

_WORD = re.compile(r"[^\W_]+(?:-[^\W_]+)*", re.UNICODE)
FIRST_PART_SENTENCES = 4
OTHER_PART_SENTENCES = 3
MMR_LAMBDA = 0.7
NO_EVIDENCE_BRIEF = (
    "The sources searched do not contain an answer to “{question}”: no relevant source was found, "
    "so this brief states nothing about it."
)


def key_words(text: str) -> list[str]:
    """The question's key terms in their original spelling, anchors (names, symbols) first."""
    focus = focus_of(text)
    order = {term: i for i, term in enumerate(focus.key_terms)}
    spelled: dict[str, str] = {}
    for match in _WORD.finditer(text):
        for token in tokens(match.group()):
            if token in order:
                spelled.setdefault(token, match.group())
    return sorted(
        dict.fromkeys(spelled.values()), key=lambda w: min(order.get(t, len(order)) for t in tokens(w))
    )


def relevant_sentences(text: str, focus: Focus, title: str = "") -> list[tuple[float, int, int]]:
    """(relevance, start, end) of the prose sentences of `text` that bear on the question, best
    first; each span is a verbatim slice of `text`."""
    spans = prose_spans(text)
    ranked = []
    for a, b in spans:
        score = focus.coverage(text[a:b], f"{title}\n{lead_in(text, a)}")
        if score >= SENTENCE_BAR:
            ranked.append((score, a, b))
    ranked.sort(key=lambda item: (-item[0], item[1]))
    return ranked


LEAD_IN_CHARS = 120


def lead_in(text: str, at: int) -> str:
    """The short block just before the paragraph holding `at` — a term being defined (`<dt>`),
    a heading — which names what the paragraph's sentences are about."""
    paragraph = text.rfind("\n\n", 0, at)
    if paragraph < 0:
        return ""
    previous = text.rfind("\n\n", 0, paragraph)
    block = text[previous + 2 if previous >= 0 else 0 : paragraph].strip()
    return block if len(block) <= LEAD_IN_CHARS else ""


def per_part(
    text: str, ranked: list[tuple[float, int, int]], focus: Focus, max_findings: int, title: str = ""
) -> list[tuple[float, int, int]]:
    """Findings for every sub-question in turn, each part's best (and earliest) first, so a
    page that answers two parts is quoted for both: `max_findings` each for up to two parts."""
    queues = []
    for part in focus.parts:
        scored = [
            (part.coverage(focus.present(text[a:b], f"{title}\n{lead_in(text, a)}")), a, b)
            for _, a, b in ranked
        ]
        queues.append(sorted((s for s in scored if s[0] >= SENTENCE_BAR), key=lambda r: (-r[0], r[1])))
    limit = max_findings + min(len(focus.parts) - 1, 1) * max_findings // 2
    chosen: list[tuple[float, int, int]] = []
    while len(chosen) < limit and any(queues):
        for queue in queues:
            while queue and any(queue[0][1] == c[1] for c in chosen):
                queue.pop(0)
            if queue and len(chosen) < limit:
                chosen.append(queue.pop(0))
    return chosen


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
        focus = focus_of(question)
        ranked = relevant_sentences(page.text, focus, page.title)
        chosen = sorted(per_part(page.text, ranked, focus, max_findings, page.title), key=lambda r: r[1])
        findings = [Finding(text=squash(page.text[a:b]), quote=page.text[a:b]) for _, a, b in chosen]
        return Extraction(summary=summarise(page, ranked), findings=findings)

    async def write(
        self,
        question: str,
        sources: list[NumberedSource],
        notes: list[str],
        budget: StepBudget | None = None,
        *,
        language: str | None = None,
    ) -> str:
        """Extractive: quotes its sources in their language, whatever `language` asks."""
        return extractive_brief(question, sources)

    async def critique(self, question: str, brief: str, budget: StepBudget | None = None) -> Critique:
        focus = focus_of(question)
        unanswered = [p.text for p in focus.parts if p.coverage(token_set(brief)) < SENTENCE_BAR]
        has_citation = re.search(r"\[\d+\]", brief) is not None
        notes = []
        if not has_citation:
            notes.append("the brief cites no source")
        notes += [f"no source answers: {part}" for part in unanswered]
        return Critique(answers_question=has_citation and not unanswered, notes=notes)

    async def support(
        self, pairs: list[tuple[str, list[str]]], budget: StepBudget | None = None
    ) -> list[bool]:
        return [entailed(sentence, quotes) for sentence, quotes in pairs]

    async def cast(
        self,
        question: str,
        schema: dict[str, Any],
        brief: str,
        sources: list[NumberedSource],
        budget: StepBudget | None = None,
        *,
        language: str | None = None,
    ) -> tuple[Any, int]:
        return SchemaFiller(question, brief, sources).fill_valid(schema), 0

    def extraction_worst_case(self, question: str) -> int:
        return 0

    async def aclose(self) -> None:
        return None


def expand_queries(question: str, count: int) -> list[str]:
    """Keyphrase queries: all key terms, then each sub-question's terms with the anchors."""
    focus = focus_of(question)
    words = key_words(question)
    queries = [" ".join(words[:8])] if words else [squash(question)]
    for part in focus.parts:
        part_words = key_words(part.text)
        anchors = [w for w in words if tokens(w)[0] in part.anchors and w not in part_words]
        queries.append(" ".join(anchors + part_words))
    anchors = [w for w in words if tokens(w)[0] in focus.anchors]
    others = [w for w in words if w not in anchors]
    for word in others:
        queries.append(" ".join([*anchors[:3], word]))
    return _unique([q for q in queries if q.strip()])[:count]


def gap_queries(question: str, findings: list[str], done: list[str], count: int) -> list[str]:
    """Follow-ups for the sub-questions the findings cover least, then anchors joined with the
    names the findings introduced (the second hop of a multi-hop question)."""
    focus = focus_of(question)
    finding_tokens = token_set(" ".join(findings))
    done_set = {squash(d).lower() for d in done}
    parts = sorted(focus.parts, key=lambda p: p.coverage(finding_tokens))
    queries = []
    for part in parts:
        queries.append(" ".join(key_words(part.text)))
    names: dict[str, int] = {}
    question_tokens = set(tokens(question))
    for finding in findings:
        for match in re.finditer(r"\b[A-Z][a-z]{3,}(?:\s[A-Z][a-z]{3,})*", finding):
            if not set(tokens(match.group())) & question_tokens:
                names[match.group()] = names.get(match.group(), 0) + 1
    for name, _ in sorted(names.items(), key=lambda kv: (-kv[1], kv[0]))[:count]:
        for part in parts:
            queries.append(f"{name} {' '.join(key_words(part.text))}")
    return [q for q in _unique(queries) if q.strip() and q.lower() not in done_set][:count]


def summarise(page: Page, ranked: list[tuple[float, int, int]], max_sentences: int = 2) -> str:
    """1-2 sentences from the page: its best sentences for the question, else its opening."""
    spans = sorted(ranked[:max_sentences], key=lambda r: r[1])
    chosen = [squash(page.text[a:b]) for _, a, b in spans]
    if not chosen:
        chosen = [squash(page.text[a:b]) for a, b in prose_spans(page.text)[:max_sentences]]
    return clip(" ".join(chosen), 480) or clip(squash(page.text), 240) or page.title


def no_evidence_brief(question: str) -> str:
    return NO_EVIDENCE_BRIEF.format(question=squash(question).rstrip("?.") + "?")


def extractive_brief(question: str, sources: list[NumberedSource]) -> str:
    """Markdown: per sub-question, the most relevant sentences (MMR: relevant, not redundant),
    each cited [n]; then the sub-questions no source answers, if any."""
    focus = focus_of(question)
    cited = [(claim, s.n) for s in sources for claim in s.claims]
    if not cited:
        return no_evidence_brief(question)
    titles = {s.n: s.title for s in sources}
    claim_tokens = [focus.present(c, titles[n]) for c, n in cited]
    used: set[int] = set()
    sections: list[tuple[str, list[str]]] = []
    unanswered = []
    # Each sentence answers the part it covers best by its own words (the title only breaks ties):
    # "k1 ... controls saturation" on the page "BM25 ranking" answers "what do k1 and b control".
    own = [token_set(c) for c, _ in cited]
    home = [
        max(
            range(len(focus.parts)),
            key=lambda p: (focus.parts[p].coverage(own[i]), focus.parts[p].coverage(claim_tokens[i]), -p),
        )
        for i in range(len(cited))
    ]
    for index, part in enumerate(focus.parts):
        limit = FIRST_PART_SENTENCES if index == 0 else OTHER_PART_SENTENCES
        relevance = {i: part.coverage(claim_tokens[i]) for i in range(len(cited)) if home[i] == index}
        candidates = [i for i in relevance if relevance[i] >= SENTENCE_BAR and i not in used]
        chosen = mmr(candidates, relevance, claim_tokens, limit)
        used.update(chosen)
        if chosen:
            sections.append((part.text, [_cited(*cited[i]) for i in chosen]))
        else:
            unanswered.append(part.text)
    if not sections:
        return no_evidence_brief(question)
    if len(focus.parts) == 1:
        parts = [" ".join(sections[0][1])]
    else:
        parts = []
        for title, lines in sections:
            parts += [f"## {_as_question(title)}", "", " ".join(lines), ""]
    if unanswered:
        parts += ["", "## Open questions", ""]
        parts += [f"- {_as_question(text)}" for text in unanswered]
    return "\n".join(parts).strip()


def mmr(
    candidates: list[int], relevance: dict[int, float], token_sets: list[set[str]], limit: int
) -> list[int]:
    """Maximal marginal relevance: each pick trades relevance against overlap with earlier picks."""
    chosen: list[int] = []
    pool = sorted(candidates, key=lambda i: (-relevance[i], i))
    while pool and len(chosen) < limit:

        def gain(i: int) -> float:
            overlap = max((_jaccard(token_sets[i], token_sets[j]) for j in chosen), default=0.0)
            return MMR_LAMBDA * relevance[i] - (1 - MMR_LAMBDA) * overlap

        best = max(pool, key=lambda i: (gain(i), -i))
        pool.remove(best)
        if chosen and max(_jaccard(token_sets[best], token_sets[j]) for j in chosen) > 0.8:
            continue  # a near-duplicate says nothing new
        chosen.append(best)
    return chosen


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 0.0


def _as_question(text: str) -> str:
    text = squash(text).rstrip("?.,;: ")
    return (text[:1].upper() + text[1:] + "?") if text else ""


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


# Fields whose value is the finding itself, not a fact named by the field.
GENERIC_TEXT_FIELDS = frozenset(
    {"answer", "summary", "conclusion", "claim", "finding", "description", "text", "title", "name", "source"}
)


class NoEvidence(Exception):
    """No supporting quote gives this field a value."""


class SchemaFiller:
    """Builds an instance of a JSON Schema from the sources' findings, then checks it validates.

    Values come from the evidence: numbers, ranges and dates parsed from the quotes that name the
    field, enums matched against them. A field the evidence does not give is null where the schema
    allows it; otherwise the nearest honest value (an empty string, the lowest number allowed).
    """

    def __init__(self, question: str, brief: str, sources: list[NumberedSource]):
        self.question = question
        self.brief = brief
        self.sources = sources
        self.claims = [(claim, s) for s in sources for claim in s.claims]
        self.claim_tokens = [set(tokens(c)) for c, _ in self.claims]
        self.index = BM25([terms(c) for c, _ in self.claims])
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

    def naming(self, name: str) -> list[tuple[str, NumberedSource]]:
        """Claims that mention most of the field's name ("rated_mw": rated, MW), best first."""
        wanted = set(tokens(name.replace("_", " ")))
        if not wanted:
            return []
        scores = self.index.scores(terms(name.replace("_", " ")) + terms(self.question))
        share = [len(wanted & self.claim_tokens[i]) / len(wanted) for i in range(len(self.claims))]
        hits = [i for i in range(len(self.claims)) if share[i] >= 0.5]
        return [self.claims[i] for i in sorted(hits, key=lambda i: (-share[i], -scores[i], i))]

    def best_claims(self, hint: str, skip: int = 0) -> list[tuple[str, NumberedSource]]:
        scores = self.index.scores(terms(hint.replace("_", " ")) + terms(self.question))
        order = sorted(range(len(self.claims)), key=lambda i: (-scores[i], i))
        return [self.claims[i] for i in order if scores[i] > 0][skip:]

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
        nullable = kind == "null" or (isinstance(kind, list) and "null" in kind)
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "null")
        if kind is None:
            kind = "object" if "properties" in schema else "array" if "items" in schema else "string"
        filler = getattr(self, f"fill_{kind}", self.fill_string)
        try:
            return filler(schema, name, index)
        except NoEvidence:
            return None if nullable else self.fallback(kind, schema)

    def fallback(self, kind: str, schema: dict[str, Any]) -> Any:
        """A value for a required, non-null field the evidence does not give: the emptiest one."""
        if kind in ("number", "integer"):
            low = schema.get("minimum", schema.get("exclusiveMinimum", 0))
            value = low + (1 if "exclusiveMinimum" in schema else 0)
            return round(value) if kind == "integer" else value
        if kind == "boolean":
            return False
        text = ""
        min_len = int(schema.get("minLength", 0))
        return text.ljust(min_len, "?") if min_len else text

    def resolve(self, ref: str) -> Any:
        return resolve_ref(self.root, ref)

    def first_valid(self, options: list[Any], name: str, index: int) -> Any:
        for option in options:
            value = self.fill(option, name, index)
            if SafeValidator({**self.root, **(option if isinstance(option, dict) else {})}).is_valid(value):
                return value
        return self.fill(options[0], name, index) if options else None

    def pick_enum(self, values: list[Any], name: str) -> Any:
        """The enum value the evidence names; the first one mentioned in the best claims."""
        evidence = [c for c, _ in (self.naming(name) or self.best_claims(name))[:3]]
        for claim in evidence:
            lowered = claim.lower()
            hits = [
                v
                for v in values
                if str(v).lower() and re.search(rf"\b{re.escape(str(v).lower())}\b", lowered)
            ]
            if hits:
                return hits[0]
        if None in values:
            return None
        return values[0] if values else None

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
        count = max(low, min(3, len(self.best_claims(name))))
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
        if not best:
            raise NoEvidence(name)
        return squash(best[0][0])

    def fill_string(self, schema: dict[str, Any], name: str, index: int) -> str:
        fmt = schema.get("format")
        naming = self.naming(name)
        generic = name.lower() in GENERIC_TEXT_FIELDS or not name
        best = naming[index:] or (self.best_claims(name, skip=index) if generic else [])
        if not best:
            raise NoEvidence(name)
        if fmt in ("uri", "url", "iri"):
            return best[0][1].url
        if fmt in ("date", "date-time"):
            found = next((d for c, _ in best for d in [date_in(c)] if d), None)
            if found is None:
                raise NoEvidence(name)
            return found.isoformat() + ("T00:00:00Z" if fmt == "date-time" else "")
        if fmt == "email":
            raise NoEvidence(name)
        text = squash(best[0][0])
        if name.lower() in ("title", "name", "source", "source_title") and best:
            text = best[0][1].title
        if name.lower() in ("summary", "answer", "conclusion") and self.brief:
            text = squash(re.sub(r"\s*\[\d+\]", "", self.brief.split("\n\n")[0]))
        elif naming:
            value = quantity_near(naming[0][0], name)
            if value is not None and len(name) <= 24:
                text = value.text
        if "maxLength" in schema:
            text = clip(text, int(schema["maxLength"]))
        pattern = schema.get("pattern")
        if pattern and not pattern_matches(pattern, text):
            candidates = [squash(c) for c, _ in best] + [q.text for c, _ in best for q in quantities(c)]
            matching = next((c for c in candidates if pattern_matches(pattern, c)), None)
            if matching is None:
                raise NoEvidence(name)
            text = matching
        if len(text) < int(schema.get("minLength", 0)):
            raise NoEvidence(name)
        return text

    def fill_number(self, schema: dict[str, Any], name: str, index: int) -> float | int:
        """The value the quotes naming the field give it; a range gives its lower end."""
        value = None
        for claim, _ in self.naming(name)[index:] or self.naming(name):
            found = quantity_near(claim, name)
            if found is not None:
                value = found.low
                break
        if value is None:
            raise NoEvidence(name)
        low = schema.get("minimum", schema.get("exclusiveMinimum"))
        high = schema.get("maximum", schema.get("exclusiveMaximum"))
        if (low is not None and value < low) or (high is not None and value > high):
            raise NoEvidence(name)  # the evidence's value does not fit: no value beats a forced one
        step = schema.get("multipleOf")
        if step and abs(round(value / step) * step - value) > 1e-9:
            raise NoEvidence(name)
        return value

    def fill_integer(self, schema: dict[str, Any], name: str, index: int) -> int:
        value = self.fill_number(schema, name, index)
        if value != int(value):
            raise NoEvidence(name)
        return int(value)

    def fill_boolean(self, schema: dict[str, Any], name: str, index: int) -> bool:
        if name.lower() in ("found", "answerable", "answer_found", "answered"):
            return bool(self.claims)
        if not self.naming(name):
            raise NoEvidence(name)
        return True

    def fill_null(self, schema: dict[str, Any], name: str, index: int) -> None:
        return None
