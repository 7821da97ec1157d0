"""What a question is about, and whether a text bears on it: key terms, anchors, sub-questions.

Both reasoners use this as the floor of relevance: a page below the page bar is not read, a
sentence below the sentence bar never becomes a claim, and with no claim left the run abstains
(`no_evidence`) instead of answering from whatever the search returned.

Anchors are the terms a question cannot be answered without: names, acronyms, symbols and
numbers ("BM25", "k1", "EU", "2025"). They weigh most. Question-frame words ("changed", "year",
"difference") weigh least: sources rarely repeat them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from graph.providers.text import STOPWORDS, stem

COMMON_FACTOR = 0.25
COMMON_MIN_TEXTS = 3
PAGE_BAR = 0.6  # share of a sub-question's weight a page must cover to be read
SENTENCE_BAR = 0.4  # share a sentence must cover to become a claim
ANCHOR_WEIGHT = 3.0
FRAME_WEIGHT = 0.3
TERM_WEIGHT = 1.0
QUESTION_WORDS = frozenset(
    [
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "how",
        "is",
        "are",
        "was",
        "were",
        "does",
        "do",
        "did",
        "can",
        "could",
        "should",
        "would",
        "will",
        "explain",
        "describe",
        "compare",
        "tell",
        "give",
        "list",
        "name",
    ]
)
FRAME_WORDS = frozenset(
    [
        "change",
        "changed",
        "changes",
        "happen",
        "happened",
        "year",
        "years",
        "date",
        "long",
        "many",
        "much",
        "main",
        "key",
        "kind",
        "type",
        "difference",
        "differences",
        "different",
        "role",
        "purpose",
        "mean",
        "means",
        "control",
        "controls",
        "work",
        "works",
        "new",
        "current",
        "currently",
        "latest",
        "recent",
        "recently",
        "value",
        "values",
        "number",
        "compared",
        "versus",
        "vs",
    ]
)
_TOKEN = re.compile(r"[^\W_]+(?:[-'’][^\W_]+)*", re.UNICODE)
_SPLIT = re.compile(
    r"\?\s+|;\s*|,?\s+and\s+(?:(?:in|on|at|for|by|from|to|with)\s+)?(?=(?:what|which|who|whom|when|where|why|how|is|are|was|were|does|do|did)\b)",
    re.IGNORECASE,
)


_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def tokens(text: str) -> list[str]:
    """Matching keys of a text: stemmed content words, and single-letter symbols (`b`, `x`)."""
    out = []
    for word in _WORD.findall(text.lower()):
        if len(word) == 1:
            if word.isalpha() and word not in ("a", "i", "s", "t"):
                out.append(word)
        elif word not in STOPWORDS:
            token = stem(word)
            # "decide" and "decides" (stemmed "decid") are one word: drop a final e.
            out.append(token[:-1] if len(token) > 4 and token.endswith("e") else token)
    return out


PREFIX = 6
NUMBER_TOKEN = "#number"  # stands for any figure or date, for parts that ask for one
_ASKS_FOR_A_NUMBER = re.compile(
    r"\b(?:how (?:long|many|much|old|far|big|large|tall|high|fast|heavy|often)|when|what (?:year|date|day)"
    r"|percentage|share|rate|population|capacity|cost|price|size|length|number of|speed|revenue|profit"
    r"|default(?: value)?|maximum|minimum|limit|precision)\b",
    re.IGNORECASE,
)
_FIGURE = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*(?![\w])")


@lru_cache(maxsize=16_384)
def token_set(text: str) -> frozenset[str]:
    """A text's tokens plus their long prefixes, so `efficient` finds `efficiency` (the stemmer
    is deliberately light)."""
    out = {NUMBER_TOKEN} if _FIGURE.search(text) else set()
    for token in set(tokens(text)):
        out.add(token)
        out.update(token[:n] for n in range(PREFIX, len(token)))
    return frozenset(out)


def has(present: frozenset[str] | set[str], token: str) -> bool:
    return token in present or (len(token) > PREFIX and token[: max(PREFIX, len(token) - 2)] in present)


@dataclass(frozen=True)
class SubQuestion:
    text: str
    weights: dict[str, float]  # token -> weight

    @property
    def total(self) -> float:
        return sum(self.weights.values()) or 1.0

    @property
    def anchors(self) -> list[str]:
        return [t for t, w in self.weights.items() if w >= ANCHOR_WEIGHT]

    def coverage(self, text_tokens: frozenset[str] | set[str]) -> float:
        """Share of the weight whose terms the text has (`text_tokens` from `token_set`)."""
        return sum(w for t, w in self.weights.items() if has(text_tokens, t)) / self.total


@dataclass(frozen=True)
class Focus:
    """A question's sub-questions and their weighted terms."""

    question: str
    parts: tuple[SubQuestion, ...]

    @property
    def anchors(self) -> list[str]:
        return list(dict.fromkeys(a for part in self.parts for a in part.anchors))

    @property
    def key_terms(self) -> list[str]:
        """Every weighted term, anchors first."""
        weights: dict[str, float] = {}
        for part in self.parts:
            for term, weight in part.weights.items():
                weights[term] = max(weight, weights.get(term, 0.0))
        return sorted(weights, key=lambda t: -weights[t])

    def coverage(self, text: str, context: str = "") -> float:
        """The best share of any sub-question's weight the text covers. `context` (a page's
        title) lends its anchors: on a page titled "Harrowgate Bridge", "It opened on 14 June
        2004" is about the bridge."""
        present = self.present(text, context)
        return max((part.coverage(present) for part in self.parts), default=0.0)

    def present(self, text: str, context: str = "") -> frozenset[str]:
        present = token_set(text)
        if context:
            present |= token_set(context) & set(self.anchors)
        return present

    def best_part(self, text: str) -> tuple[int, float]:
        present = token_set(text)
        scores = [part.coverage(present) for part in self.parts]
        best = max(range(len(scores)), key=lambda i: (scores[i], -i)) if scores else 0
        return best, scores[best] if scores else 0.0

    def discounting(self, common: set[str]) -> Focus:
        """The same focus with `common` terms (in every result a search returned: the corpus's
        own subject, like "PostgreSQL" in its manual) weighing a quarter: they say little."""
        if not common:
            return self
        parts = tuple(
            SubQuestion(p.text, {t: w * COMMON_FACTOR if t in common else w for t, w in p.weights.items()})
            for p in self.parts
        )
        return Focus(self.question, parts)

    def common_terms(self, texts: list[str]) -> set[str]:
        """The question's anchors every one of `texts` contains (with at least three texts): a name
        every result shares is the corpus's subject, not what sets a relevant page apart."""
        if len(texts) < COMMON_MIN_TEXTS:
            return set()
        sets = [token_set(text) for text in texts]
        return {t for t in self.anchors if all(has(s, t) for s in sets)}

    def page_is_relevant(self, text: str) -> bool:
        return self.coverage(text) >= PAGE_BAR

    def sentence_is_relevant(self, text: str, context: str = "") -> bool:
        return self.coverage(text, context) >= SENTENCE_BAR


def focus_of(question: str) -> Focus:
    """Split the question into sub-questions and weigh each one's terms."""
    question = " ".join(question.split())
    pieces = [p.strip(" ,.?") for p in _SPLIT.split(question) if p and p.strip(" ,.?")]
    parts: list[SubQuestion] = []
    for piece in pieces or [question]:
        weights = _weights(piece, first_word_is_start=True)
        if not weights:
            continue
        if parts and not any(w >= ANCHOR_WEIGHT for w in weights.values()):
            # "...and when did it open?": the pronoun stands for the previous part's anchors.
            for anchor in parts[-1].anchors:
                weights.setdefault(anchor, ANCHOR_WEIGHT)
        if _ASKS_FOR_A_NUMBER.search(piece):
            weights[NUMBER_TOKEN] = TERM_WEIGHT
        parts.append(SubQuestion(piece, weights))
    if not parts:
        parts.append(SubQuestion(question, {t: TERM_WEIGHT for t in tokens(question)}))
    return Focus(question, tuple(parts))


def _weights(text: str, *, first_word_is_start: bool) -> dict[str, float]:
    weights: dict[str, float] = {}
    for identifier in re.findall(r"\w+_\w+", text):  # shared_buffers, max_connections
        for token in tokens(identifier.replace("_", " ")):
            weights[token] = ANCHOR_WEIGHT
    words = list(_TOKEN.finditer(text))
    for index, match in enumerate(words):
        raw = match.group()
        if raw.lower() in QUESTION_WORDS:
            continue
        for token in tokens(raw):
            weight = _weight(raw, token, at_start=index == 0 and first_word_is_start)
            weights[token] = max(weight, weights.get(token, 0.0))
    return weights


def _weight(raw: str, token: str, *, at_start: bool) -> float:
    if any(ch.isdigit() for ch in raw) or (len(raw) == 1 and raw.isalpha()):
        return ANCHOR_WEIGHT
    if sum(ch.isupper() for ch in raw) >= 2 or (raw[:1].isupper() and not at_start):
        return ANCHOR_WEIGHT
    if raw[:1].isupper() and at_start and raw.lower() not in STOPWORDS:
        return ANCHOR_WEIGHT
    if token in FRAME_WORDS or raw.lower() in FRAME_WORDS:
        return FRAME_WEIGHT
    return TERM_WEIGHT
