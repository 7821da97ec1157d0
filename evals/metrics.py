"""Eval metrics: pure functions over (question item, result dict, source texts).

A *result* is a ResearchResult-shaped dict (see spec/openapi.json) plus `brief` (Markdown with [n]
markers), `sources` ordered by n, `typed`, `basis`, `stop_reason`, `usage` and `cost_usd`. Only two
adapters, `citations_of` and `usage_of`, know where the graph puts quotes and counters; everything
else reads their output, so a change in the result shape is a one-place change.

`source_texts` maps source URL -> plain text (a corpus's `texts_by_url()`, plus any pages fetched
live); URLs are compared after `dataset.normalise_url`.
"""

from __future__ import annotations

import json
import math
import re
import statistics
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from jsonschema import Draft202012Validator

from evals.dataset import EvalItem, normalise_url
from graph.citations import DEFAULT_SCHEMA

if TYPE_CHECKING:
    from evals.judge import Judgement

# The graph's default typed schema (used when a question has no response_schema): one definition.
DEFAULT_TYPED_SCHEMA: dict[str, Any] = DEFAULT_SCHEMA

# Metric names in report order; every one is "higher is better" except unsupported_claim_rate.
# judge_score is the LLM judge's (evals/judge.py): None throughout a run without one.
QUALITY_METRICS = (
    "fact_recall",
    "citation_precision",
    "abstention",
    "wrong_abstention",
    "sentence_support",
    "citation_coverage",
    "unsupported_claim_rate",
    "schema_validity",
    "typed_field_accuracy",
    "budget_adherence",
    "success",
    "judge_score",
)


# --- adapters: the only code that knows the result's shape ------------------------------------


@dataclass(frozen=True)
class Citation:
    n: int | None  # the [n] marker it backs; None when its URL is not among `sources`
    url: str
    quote: str
    field: str | None = None  # typed field path, when it came from `basis`


def citations_of(result: Mapping[str, Any]) -> list[Citation]:
    """Every quote-bearing citation of a result, deduplicated, in a stable order.

    The graph keeps quotes in two places (the runner copies both into the result it scores):
    - `result["claims"]`: the claims standing behind the brief, [{url, quote, text?}]; the claims of
      source n back the brief's [n] marker (n = 1-based position of the url in `sources`);
    - `result["basis"]`: per typed field, [{field, citations: [{url, title, quote}], confidence}].
    A url that is not among `sources` gets n = None: it backs no marker.
    """
    position = {
        normalise_url(str(s.get("url", ""))): i + 1 for i, s in enumerate(result.get("sources") or [])
    }

    def cited(raw: Mapping[str, Any], field_path: str | None) -> Citation:
        url = str(raw.get("url") or "")
        return Citation(
            n=position.get(normalise_url(url)) if url else None,
            url=url,
            quote=str(raw.get("quote") or ""),
            field=field_path,
        )

    found = [cited(raw, None) for raw in result.get("claims") or []]
    for entry in result.get("basis") or []:
        found += [cited(raw, entry.get("field") or entry.get("path")) for raw in entry.get("citations") or []]
    unique: dict[tuple, Citation] = {}
    for citation in found:
        unique.setdefault((citation.n, citation.url, citation.quote, citation.field), citation)
    return list(unique.values())


@dataclass(frozen=True)
class Usage:
    cost_usd: float | None
    elapsed_secs: float | None
    waves: int | None
    searches: int | None
    pages: int | None


def usage_of(result: Mapping[str, Any]) -> Usage:
    """Spend and counters: the graph's result carries `cost_usd` and `wave_count` at the top level and
    `usage` {searches, pages, tokens, llm_calls}; the runner adds `latency_ms`. `usage.cost_usd`,
    `usage.elapsed_secs|wallclock_secs` and `usage.waves` are read too when present."""
    usage = result.get("usage") or {}

    def pick(*values):
        return next((v for v in values if v is not None), None)

    latency_ms = result.get("latency_ms")
    return Usage(
        cost_usd=pick(result.get("cost_usd"), usage.get("cost_usd")),
        elapsed_secs=pick(
            usage.get("elapsed_secs"),
            usage.get("wallclock_secs"),
            latency_ms / 1000 if latency_ms is not None else None,
        ),
        waves=pick(usage.get("waves"), result.get("wave_count")),
        searches=usage.get("searches"),
        pages=usage.get("pages"),
    )


# --- text normalisation -----------------------------------------------------------------------

_QUOTE_CHARS = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",
        "\u00a0": " ",
    }
)
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_NON_WORD = re.compile(r"(?:(?<!\d)\.|\.(?!\d)|[^\w.])+")


def normalise_fact_text(text: str) -> str:
    """For fact matching: case-folded words and numbers, `1,870` == `1870`, `11%` == `11 percent`."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTE_CHARS).casefold()
    text = _THOUSANDS.sub("", text).replace("%", " percent ").replace("_", " ")
    return " ".join(_NON_WORD.sub(" ", text).split())


def normalise_quote(text: str) -> str:
    """For quote matching: verbatim apart from Unicode form, typographic quotes/dashes and whitespace."""
    return " ".join(unicodedata.normalize("NFKC", text).translate(_QUOTE_CHARS).split())


@lru_cache(maxsize=512)
def _normalised_source(text: str) -> str:
    """A source's text normalised once, however many of its quotes are checked."""
    return normalise_quote(text)


def contains_phrase(haystack_normalised: str, phrase: str) -> bool:
    needle = normalise_fact_text(phrase)
    return bool(needle) and f" {needle} " in f" {haystack_normalised} "


# --- answers and facts ------------------------------------------------------------------------


def _strings_in(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, (int, float)):
        yield str(value)
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings_in(item)


def answer_text(result: Mapping[str, Any]) -> str:
    """What the user reads: the brief plus every string/number in the typed object."""
    return "\n".join([result.get("brief") or "", *_strings_in(result.get("typed") or {})])


_ABSTENTION = re.compile(
    r"\b(?:not (?:be )?found|no (?:information|data|mention|record|figure)s?\b"
    r"|(?:does|do|did) not (?:mention|contain|say|state|provide|specify|include|give|report|disclose)"
    r"|not (?:mentioned|stated|specified|given|reported|disclosed|published|available|covered|provided)"
    r"|(?:could|can) ?not (?:find|determine|locate|be determined|answer|confirm)|cannot be (?:determined|answered)"
    r"|unable to (?:find|determine|locate|answer)|insufficient (?:evidence|information)"
    r"|not (?:yet )?(?:known|decided|approved)|unknown)\b",
    re.IGNORECASE,
)
_ABSTENTION_FLAGS = ("found", "answerable", "answer_found", "answered")


def abstains(result: Mapping[str, Any]) -> bool:
    """The result says the answer is not in its sources (in prose, or via a typed `found: false`)."""
    typed = result.get("typed") or {}
    if isinstance(typed, Mapping) and any(typed.get(flag) is False for flag in _ABSTENTION_FLAGS):
        return True
    return bool(_ABSTENTION.search(answer_text(result)))


def abstained(result: Mapping[str, Any]) -> bool:
    """The run gave no answer: it stopped with `no_evidence`, or says so and cites nothing."""
    return result.get("stop_reason") == "no_evidence" or (abstains(result) and not citations_of(result))


def abstention(item: EvalItem, result: Mapping[str, Any]) -> float | None:
    """On a question the corpus cannot answer: 1 when the run abstained."""
    return None if item.answerable else float(abstained(result))


def wrong_abstention(item: EvalItem, result: Mapping[str, Any]) -> float | None:
    """On a question the corpus answers: 1 when the run abstained anyway."""
    return float(abstained(result)) if item.answerable else None


def sentence_support(result: Mapping[str, Any]) -> float | None:
    """Share of the brief's statements the critic found supported by the quotes they cite."""
    faithfulness = result.get("faithfulness") or {}
    sentences = faithfulness.get("sentences") or 0
    return faithfulness.get("supported", 0) / sentences if sentences else None


def missing_facts(item: EvalItem, result: Mapping[str, Any]) -> list[tuple[str, ...]]:
    text = normalise_fact_text(answer_text(result))
    return [fact for fact in item.facts if not any(contains_phrase(text, v) for v in fact)]


def fact_recall(item: EvalItem, result: Mapping[str, Any]) -> float | None:
    """Share of gold facts present (any accepted variant). For unanswerable questions: 1.0 when the
    result says the answer is not available, else 0.0."""
    if not item.answerable:
        return 1.0 if abstains(result) else 0.0
    if not item.facts:
        return None
    return 1 - len(missing_facts(item, result)) / len(item.facts)


# --- citations --------------------------------------------------------------------------------

_ELLIPSIS = re.compile(r"\s*(?:\.\.\.|\u2026|\[\.\.\.\])\s*")


def source_text_for(url: str, source_texts: Mapping[str, str]) -> str | None:
    wanted = normalise_url(url)
    for candidate, text in source_texts.items():
        if normalise_url(candidate) == wanted:
            return text
    return None


def quote_is_in_source(citation: Citation, source_texts: Mapping[str, str]) -> bool:
    """The quote occurs verbatim (after `normalise_quote`) in its cited source. A quote elided with
    `...` passes when every piece occurs, in order."""
    text = source_text_for(citation.url, source_texts) if citation.url else None
    pieces = [p for p in (normalise_quote(s) for s in _ELLIPSIS.split(citation.quote)) if p]
    if text is None or not pieces:
        return False
    haystack, start = _normalised_source(text), 0
    for piece in pieces:
        at = haystack.find(piece, start)
        if at < 0:
            return False
        start = at + len(piece)
    return True


def failed_citations(result: Mapping[str, Any], source_texts: Mapping[str, str]) -> list[Citation]:
    return [c for c in citations_of(result) if not quote_is_in_source(c, source_texts)]


def citation_precision(result: Mapping[str, Any], source_texts: Mapping[str, str]) -> float | None:
    """Share of citations whose quote is in the cited source; None when there are no citations."""
    citations = citations_of(result)
    if not citations:
        return None
    return 1 - len(failed_citations(result, source_texts)) / len(citations)


_MARKER = re.compile(r"\[(\d+(?:\s*[,;\u2013-]\s*\d+)*)\]")
_SENTENCE_END = re.compile(r"(?<=[.!?])(?:\s*\[\d+(?:\s*[,;\u2013-]\s*\d+)*\])*\s+(?=[A-Z0-9\"'(\[*_])")
_ABBREVIATIONS = {
    "dr",
    "mr",
    "mrs",
    "ms",
    "prof",
    "st",
    "no",
    "vs",
    "e.g",
    "i.e",
    "etc",
    "approx",
    "inc",
    "ltd",
    "co",
}
_SOURCES_HEADING = re.compile(r"^\s*#{1,6}\s*(sources|references|citations|bibliography)\b", re.IGNORECASE)
_SOURCE_LIST_LINE = re.compile(r"^\s*(?:[-*]\s*)?\[\d+\]\s*\S.*(?:https?://|\u2014|—)")


def brief_sentences(brief: str) -> list[str]:
    """Sentences of the brief's prose: headings, code, tables and the trailing sources list excluded."""
    sentences: list[str] = []
    in_code = False
    for line in (brief or "").splitlines():
        if line.strip().startswith("```"):
            in_code = not in_code
            continue
        if in_code:
            continue
        if _SOURCES_HEADING.match(line):
            break
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", "|")) or _SOURCE_LIST_LINE.match(stripped):
            continue
        stripped = re.sub(r"^(?:[-*+>]|\d+[.)])\s+", "", stripped)
        sentences.extend(p for p in _split_sentences(stripped) if len(p.split()) >= 3)
    return sentences


def _split_sentences(text: str) -> list[str]:
    pieces, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        last_word = (
            text[start : match.start()].rsplit(None, 1)[-1] if text[start : match.start()].strip() else ""
        )
        if last_word.rstrip(".").casefold() in _ABBREVIATIONS:
            continue
        pieces.append(text[start : match.end()].strip())
        start = match.end()
    pieces.append(text[start:].strip())
    return [p for p in pieces if p]


def markers_in(sentence: str) -> set[int]:
    numbers: set[int] = set()
    for group in _MARKER.findall(sentence):
        for part in re.split(r"\s*[,;]\s*", group):
            bounds = re.split(r"\s*[\u2013-]\s*", part)
            if len(bounds) == 2 and all(b.isdigit() for b in bounds) and int(bounds[0]) <= int(bounds[1]):
                numbers.update(range(int(bounds[0]), int(bounds[1]) + 1))
            elif part.isdigit():
                numbers.add(int(part))
    return numbers


def _claim_sentences(result: Mapping[str, Any]) -> list[str]:
    """Brief sentences that assert something: sentences saying the answer is unavailable are not claims."""
    return [s for s in brief_sentences(result.get("brief") or "") if not _ABSTENTION.search(s)]


def citation_coverage(result: Mapping[str, Any]) -> float | None:
    """Share of claim sentences in the brief carrying at least one [n] marker."""
    claims = _claim_sentences(result)
    if not claims:
        return None
    return sum(1 for s in claims if markers_in(s)) / len(claims)


def unsupported_claims(result: Mapping[str, Any], source_texts: Mapping[str, str]) -> list[str]:
    """Claim sentences none of whose [n] markers is backed by a citation whose quote checks out
    (no marker, a marker past the end of `sources`, or only fabricated / missing quotes)."""
    verified = {c.n for c in citations_of(result) if c.n is not None and quote_is_in_source(c, source_texts)}
    source_count = len(result.get("sources") or [])
    return [
        s
        for s in _claim_sentences(result)
        if not {n for n in markers_in(s) if 1 <= n <= source_count} & verified
    ]


def unsupported_claim_rate(result: Mapping[str, Any], source_texts: Mapping[str, str]) -> float | None:
    claims = _claim_sentences(result)
    if not claims:
        return None
    return len(unsupported_claims(result, source_texts)) / len(claims)


# --- typed output -----------------------------------------------------------------------------


def schema_errors(typed: Any, schema: Mapping[str, Any]) -> list[str]:
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
        for e in sorted(validator.iter_errors(typed), key=lambda e: list(map(str, e.absolute_path)))
    ]


def schema_validity(typed: Any, schema: Mapping[str, Any]) -> float:
    return 0.0 if schema_errors(typed, schema) else 1.0


_MISSING = object()


def field_at(typed: Any, dotted_path: str) -> Any:
    """`a.b.0.c` into nested objects/arrays; `_MISSING` when absent."""
    value = typed
    for part in dotted_path.split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
    return value


def values_match(actual: Any, expected: Any) -> bool:
    """Numbers within 0.5 % (ints exactly), strings after `normalise_fact_text`, the rest by equality."""
    if isinstance(expected, bool) or isinstance(actual, bool) or expected is None or actual is None:
        return actual is expected or (actual == expected and type(actual) is type(expected))
    if isinstance(expected, (int, float)):
        if isinstance(actual, str):
            try:
                actual = float(normalise_fact_text(actual).split()[0])
            except (ValueError, IndexError):
                return False
        if not isinstance(actual, (int, float)):
            return False
        if isinstance(expected, int) and float(actual).is_integer():
            return int(actual) == expected
        return math.isclose(actual, expected, rel_tol=0.005)
    if isinstance(expected, str):
        return isinstance(actual, (str, int, float)) and normalise_fact_text(
            str(actual)
        ) == normalise_fact_text(expected)
    return actual == expected


def wrong_fields(item: EvalItem, typed: Any) -> dict[str, Any]:
    """Expected field -> actual value, for every field whose value is not accepted. A list in
    `expected` lists accepted alternatives; to expect an array value, wrap it: [[1, 2]]."""
    wrong = {}
    for path, accepted in (item.expected or {}).items():
        alternatives = accepted if isinstance(accepted, list) else [accepted]
        actual = field_at(typed, path)
        if actual is _MISSING or not any(values_match(actual, a) for a in alternatives):
            wrong[path] = None if actual is _MISSING else actual
    return wrong


def typed_field_accuracy(item: EvalItem, typed: Any) -> float | None:
    if not item.expected:
        return None
    return 1 - len(wrong_fields(item, typed)) / len(item.expected)


# --- budgets ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BudgetCheck:
    """Which caps were exceeded; a cap whose counter the result does not report is not checked."""

    violations: tuple[str, ...]
    unchecked: tuple[str, ...]

    @property
    def score(self) -> float:
        return 0.0 if self.violations else 1.0


_BUDGET_CAPS = (
    ("cost_usd", "max_cost_usd"),
    ("elapsed_secs", "max_wallclock_secs"),
    ("waves", "max_waves"),
    ("searches", "max_searches"),
    ("pages", "max_pages"),
)


def budget_check(result: Mapping[str, Any], budgets: Mapping[str, Any]) -> BudgetCheck:
    """`budgets` is ResearchBudgets-shaped (the plan the job ran under). Caps are hard: equal is
    within budget, anything above is a violation."""
    usage = usage_of(result)
    violations, unchecked = [], []
    for counter, cap_name in _BUDGET_CAPS:
        used, cap = getattr(usage, counter), budgets.get(cap_name)
        if cap is None:
            continue
        if used is None:
            unchecked.append(counter)
        elif used > cap:
            violations.append(f"{counter} {used} > {cap_name} {cap}")
    return BudgetCheck(violations=tuple(violations), unchecked=tuple(unchecked))


def budget_adherence(result: Mapping[str, Any], budgets: Mapping[str, Any] | None) -> float | None:
    return None if budgets is None else budget_check(result, budgets).score


# --- per question -----------------------------------------------------------------------------


@dataclass
class QuestionScore:
    item_id: str
    mode: str  # the mode the run used (may differ from the dataset's default), or "baseline"
    kind: str
    answerable: bool
    status: str
    stop_reason: str | None
    fact_recall: float | None
    citation_precision: float | None
    abstention: float | None
    wrong_abstention: float | None
    sentence_support: float | None
    citation_coverage: float | None
    unsupported_claim_rate: float | None
    schema_validity: float | None
    typed_field_accuracy: float | None
    budget_adherence: float | None
    success: float
    latency_ms: float | None
    cost_usd: float | None
    credits: int | None
    judge_score: float | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def score_result(
    item: EvalItem,
    result: Mapping[str, Any],
    source_texts: Mapping[str, str],
    *,
    mode: str | None = None,
    budgets: Mapping[str, Any] | None = None,
    judgement: Judgement | None = None,
) -> QuestionScore:
    """Every metric for one (question, result). A failed job scores 0 recall and is otherwise only
    checked for budgets: by design a job that cannot produce a valid typed object fails instead.
    `judgement` is the LLM judge's verdict on the result, when a judge ran."""
    status = str(result.get("status") or "succeeded")
    succeeded = status == "succeeded"
    typed = result.get("typed") or {}
    schema = item.response_schema or DEFAULT_TYPED_SCHEMA
    usage = usage_of(result)
    check = budget_check(result, budgets) if budgets is not None else None
    details: dict[str, Any] = {}
    if succeeded:
        details = {
            "missing_facts": [list(f) for f in missing_facts(item, result)] if item.answerable else [],
            "abstained": abstains(result),
            "failed_citations": [asdict(c) for c in failed_citations(result, source_texts)],
            "unsupported_claims": unsupported_claims(result, source_texts),
            "schema_errors": schema_errors(typed, schema),
            "wrong_fields": wrong_fields(item, typed),
        }
    if check is not None:
        details["budget_violations"] = list(check.violations)
        details["budget_unchecked"] = list(check.unchecked)
    if result.get("error"):
        details["error"] = result["error"]
    if judgement is not None:
        details["judge"] = judgement.as_dict()
    latency = result.get("latency_ms")
    if latency is None and usage.elapsed_secs is not None:
        latency = usage.elapsed_secs * 1000
    return QuestionScore(
        item_id=item.id,
        mode=mode or item.mode,
        kind=item.kind,
        answerable=item.answerable,
        status=status,
        stop_reason=result.get("stop_reason"),
        fact_recall=fact_recall(item, result) if succeeded else 0.0,
        citation_precision=citation_precision(result, source_texts) if succeeded else None,
        abstention=abstention(item, result) if succeeded else None,
        wrong_abstention=wrong_abstention(item, result) if succeeded else None,
        sentence_support=sentence_support(result) if succeeded else None,
        citation_coverage=citation_coverage(result) if succeeded else None,
        unsupported_claim_rate=unsupported_claim_rate(result, source_texts) if succeeded else None,
        schema_validity=schema_validity(typed, schema) if succeeded else None,
        typed_field_accuracy=typed_field_accuracy(item, typed) if succeeded else None,
        budget_adherence=check.score if check is not None else None,
        success=1.0 if succeeded else 0.0,
        latency_ms=latency,
        cost_usd=usage.cost_usd,
        credits=result.get("credits_charged"),
        judge_score=judgement.score if judgement is not None else None,
        details=details,
    )


# --- aggregation ------------------------------------------------------------------------------


@dataclass
class Summary:
    """Means of each metric over the questions where it applies (None: applied to none)."""

    group: str
    questions: int
    metrics: dict[str, float | None]
    cost_usd_total: float
    cost_usd_mean: float | None
    latency_ms_mean: float | None
    latency_ms_p95: float | None
    credits_total: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _mean(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.fmean(present) if present else None


def _p95(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


def summarise(group: str, scores: list[QuestionScore]) -> Summary:
    costs = [s.cost_usd for s in scores if s.cost_usd is not None]
    latencies = [s.latency_ms for s in scores if s.latency_ms is not None]
    return Summary(
        group=group,
        questions=len(scores),
        metrics={name: _mean(getattr(s, name) for s in scores) for name in QUALITY_METRICS},
        cost_usd_total=sum(costs),
        cost_usd_mean=_mean(costs),
        latency_ms_mean=_mean(latencies),
        latency_ms_p95=_p95(latencies),
        credits_total=sum(s.credits or 0 for s in scores),
    )


MODE_ORDER = ("baseline", "lite", "standard", "pro", "max")


def aggregate(
    scores: Iterable[QuestionScore], key: Callable[[QuestionScore], str] = lambda s: s.mode
) -> dict[str, Summary]:
    """Summaries per group (per mode by default; pass `key=lambda s: s.kind` for per-kind), modes in
    their natural order, other groups alphabetically."""
    groups: dict[str, list[QuestionScore]] = {}
    for score in scores:
        groups.setdefault(key(score), []).append(score)
    order = sorted(groups, key=lambda g: (MODE_ORDER.index(g) if g in MODE_ORDER else len(MODE_ORDER), g))
    return {g: summarise(g, groups[g]) for g in order}


def to_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)
