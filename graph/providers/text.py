"""Plain-text helpers shared by the offline reasoner, the corpus and the critic:
terms, sentence spans that are exact slices of the text, BM25 scoring, verbatim quote lookup.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache

STOPWORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "also",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "use",
        "used",
        "using",
        "one",
        "two",
        "many",
        "much",
        "may",
        "might",
        "must",
        "shall",
        "does",
        "doesn",
        "didn",
        "isn",
        "wasn",
        "weren",
        "aren",
        "won",
        "wouldn",
        "couldn",
        "shouldn",
        "vs",
        "via",
        "per",
        "etc",
        "eg",
        "ie",
    ]
)

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)
# A sentence ends at . ! ? (optionally followed by quotes/brackets) before whitespace, or at a
# blank line / line that starts a Markdown block (heading, list item, table row).
_SENTENCE_END = re.compile(
    r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9#*\-])|\n\s*\n|\n(?=\s*(?:#|[-*+] |\d+\. |\|))"
)
_MARKUP_ONLY = re.compile(r"^[\s#*\-+|>`=_~:]*$")


@lru_cache(maxsize=65_536)
def stem(word: str) -> str:
    """A deliberately light stemmer: plural and common verb endings, enough for matching."""
    for suffix, keep in (("ies", "y"), ("sses", "ss"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
            return word[: len(word) - len(suffix)] + keep
    return word


def terms(text: str) -> list[str]:
    """Lower-cased, stemmed content words of a text, in order (duplicates kept)."""
    out = []
    for match in _WORD.finditer(text.lower()):
        word = match.group().replace("’", "'").split("'")[0]
        if len(word) > 1 and word not in STOPWORDS:
            out.append(stem(word))
    return out


def sentence_spans(text: str, *, min_chars: int = 25, max_chars: int = 600) -> list[tuple[int, int]]:
    """(start, end) spans of the sentences of `text`; each `text[start:end]` is verbatim."""
    spans = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        spans.append((start, match.start()))
        start = match.end()
    spans.append((start, len(text)))
    out = []
    for begin, end in spans:
        piece = text[begin:end]
        stripped = piece.strip()
        if not stripped:
            continue
        begin += len(piece) - len(piece.lstrip())
        end = begin + len(stripped)
        if (
            min_chars <= len(stripped) <= max_chars
            and not _MARKUP_ONLY.match(stripped)
            and not stripped.startswith("#")
        ):
            out.append((begin, end))
    return out


def sentences(text: str, **kwargs) -> list[str]:
    return [text[a:b] for a, b in sentence_spans(text, **kwargs)]


class BM25:
    """BM25 over a fixed collection of tokenised documents; statistics computed once."""

    def __init__(self, documents: Sequence[Sequence[str]], *, k1: float = 1.2, b: float = 0.75):
        self.counts = [Counter(doc) for doc in documents]
        self.norms = []
        avg_len = (sum(len(d) for d in documents) / len(documents) or 1.0) if documents else 1.0
        for doc in documents:
            self.norms.append(k1 * (1 - b + b * len(doc) / avg_len))
        doc_freq: Counter[str] = Counter()
        for counts in self.counts:
            doc_freq.update(counts.keys())
        n = len(documents)
        self.idf = {term: math.log(1 + (n - df + 0.5) / (df + 0.5)) for term, df in doc_freq.items()}
        self.k1 = k1

    def scores(self, query: Sequence[str]) -> list[float]:
        wanted = [(t, self.idf[t]) for t in dict.fromkeys(query) if t in self.idf]
        out = []
        for counts, norm in zip(self.counts, self.norms, strict=False):
            score = 0.0
            for term, idf in wanted:
                tf = counts.get(term)
                if tf:
                    score += idf * tf * (self.k1 + 1) / (tf + norm)
            out.append(score)
        return out


def bm25_scores(
    query: Sequence[str], documents: Sequence[Sequence[str]], *, k1: float = 1.2, b: float = 0.75
) -> list[float]:
    """BM25 of each tokenised document against the tokenised query, documents as the collection."""
    return BM25(documents, k1=k1, b=b).scores(query)


def find_verbatim(quote: str, text: str) -> tuple[int, int] | None:
    """Where `quote` occurs in `text`: exactly, or allowing any run of whitespace to differ."""
    quote = quote.strip()
    if not quote:
        return None
    at = text.find(quote)
    if at >= 0:
        return at, at + len(quote)
    words = quote.split()
    if not words:
        return None
    pattern = r"\s+".join(re.escape(w) for w in words)
    match = re.search(pattern, text)
    return (match.start(), match.end()) if match else None


# C0 control characters other than tab and line breaks are dropped; vertical tab and form feed
# (PDF page breaks) become newlines.
_CONTROLS = {code: None for code in range(0x20) if chr(code) not in "\t\n\r\v\f"} | {
    ord("\v"): "\n",
    ord("\f"): "\n",
}


def printable(text: str) -> str:
    """Text from the outside (a page, a search snippet) as the run may keep it: PostgreSQL
    refuses NUL in text and jsonb, so one NUL in a page would make the job's result
    unrecordable; the other controls are no prose either."""
    return text.translate(_CONTROLS)


def squash(text: str) -> str:
    """One line: whitespace runs collapsed."""
    return " ".join(text.split())


def clip(text: str, limit: int) -> str:
    """At most `limit` characters, cut at a word boundary."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ")
    return cut[: space if space > limit // 2 else limit].rstrip()


_LIST_MARKER = re.compile(r"^(?:[-*+•·▪–]\s+|\d{1,3}[.)]\s+|>\s*)+")
_NOT_PROSE = re.compile(r"\||\s[•·▪]\s|^\W*$|\.{3,}|…$|:$")


def prose_spans(text: str, *, min_words: int = 6) -> list[tuple[int, int]]:
    """Sentence spans fit to quote: whole sentences of running text, never a heading, a table
    row, a bare list fragment or a label. A list item's marker is left out of the span (the
    span stays a verbatim slice of the text)."""
    out = []
    for start, end in sentence_spans(text):
        piece = text[start:end]
        marker = _LIST_MARKER.match(piece)
        if marker:
            start += marker.end()
            piece = text[start:end]
        words = piece.split()
        if (
            len(words) < min_words
            or _NOT_PROSE.search(piece)
            or piece[-1] not in ".!?\"')”’"
            or not any(ch.islower() for ch in piece)
            or piece.count("**") % 2
        ):
            continue
        out.append((start, end))
    return out
