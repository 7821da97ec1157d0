"""Numbering and citations: which source is [n], renumbering a brief by first citation, and the
default typed object read back from the brief."""

from __future__ import annotations

import re
from typing import Any

from graph.providers.reasoning import NumberedSource
from graph.providers.text import bm25_scores, clip, squash, terms
from graph.state import Claim, SourceMeta

MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
WRITER_CLAIMS = 40
CLAIM_CHARS = 400


def number_for_writer(
    question: str, claims: list[Claim], sources: dict[str, SourceMeta]
) -> list[NumberedSource]:
    """Sources with their claims, numbered by relevance of their best claim to the question."""
    claims = [c for c in claims if c["url"] in sources]
    scores = bm25_scores(terms(question), [terms(c["text"]) for c in claims])
    ranked = sorted(range(len(claims)), key=lambda i: (-scores[i], i))[:WRITER_CLAIMS]
    by_url: dict[str, list[int]] = {}
    for i in ranked:
        by_url.setdefault(claims[i]["url"], []).append(i)
    # Sources by their best claim; within a source, claims in the order the page states them.
    texts = {
        url: [
            clip(squash(claims[i]["text"]), CLAIM_CHARS)
            for i in sorted(picked, key=lambda i: claims[i].get("start", i))
        ]
        for url, picked in by_url.items()
    }
    return [
        NumberedSource(n=n, url=url, title=sources[url]["title"], claims=texts[url])
        for n, url in enumerate(by_url, start=1)
    ]


def renumber(brief: str, numbered: list[NumberedSource]) -> tuple[str, list[str]]:
    """Renumber markers so [1] is the first source cited; drop markers to unknown sources.

    Returns the brief and the cited URLs in their new order ([n] = cited[n-1]).
    """
    url_of = {s.n: s.url for s in numbered}
    cited: list[str] = []

    def replace(match: re.Match[str]) -> str:
        numbers = []
        for part in match.group(1).split(","):
            url = url_of.get(int(part))
            if url is None:
                continue
            if url not in cited:
                cited.append(url)
            number = cited.index(url) + 1
            if number not in numbers:
                numbers.append(number)
        return "".join(f"[{n}]" for n in numbers)

    rewritten = MARKER.sub(replace, brief)
    return re.sub(r"[ \t]+(?=[.,;:]?\s*$)", "", rewritten, flags=re.MULTILINE), cited


def cited_sources(
    cited: list[str], claims: list[Claim], sources: dict[str, SourceMeta]
) -> list[NumberedSource]:
    """The brief's sources as numbered in it, each with its live claims."""
    out = []
    for n, url in enumerate(cited, start=1):
        meta = sources.get(url)
        texts = [squash(c["text"]) for c in claims if c["url"] == url]
        out.append(NumberedSource(n=n, url=url, title=meta["title"] if meta else url, claims=texts))
    return out


def markers_in(text: str) -> list[int]:
    return [int(p) for m in MARKER.finditer(text) for p in m.group(1).split(",")]


def strip_markers(text: str) -> str:
    return squash(MARKER.sub("", text)).replace(" .", ".").replace(" ,", ",")


def default_typed(question: str, brief: str, claims: list[Claim]) -> dict[str, Any]:
    """The default schema `{answer, key_findings: [{claim, citations}], open_questions}`, read from
    the brief: its statements (headings and the open questions aside), each cited statement as a
    finding, and the questions the brief lists as open — real ones, or none."""
    sections = re.split(r"^#+\s*(.*)$", brief, flags=re.MULTILINE)
    statements, open_questions = [], []
    # re.split with one group: [text, heading, text, heading, text, ...]
    for i in range(0, len(sections), 2):
        heading = sections[i - 1].strip().lower() if i else ""
        body = sections[i]
        lines = [ln.strip() for ln in body.splitlines() if ln.strip()]
        if heading.startswith("open question"):
            open_questions += [re.sub(r"^[-*+]\s+", "", ln) for ln in lines]
            continue
        for line in lines:
            text = re.sub(r"^[-*+]\s+", "", line)
            statements += [p for p in re.split(r"(?<=[.!?])\s+(?=[A-Z\[“\"(])", text) if p.strip()]
    findings = []
    for sentence in statements:
        numbers = list(dict.fromkeys(markers_in(sentence)))
        if numbers:
            findings.append({"claim": strip_markers(sentence), "citations": numbers})
    answer = " ".join(strip_markers(s) for s in statements[:4])
    return {"answer": answer, "key_findings": findings, "open_questions": open_questions}


DEFAULT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "answer": {"type": "string"},
        "key_findings": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "claim": {"type": "string"},
                    "citations": {"type": "array", "items": {"type": "integer"}},
                },
                "required": ["claim", "citations"],
            },
        },
        "open_questions": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["answer", "key_findings", "open_questions"],
}
