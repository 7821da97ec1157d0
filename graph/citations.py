"""Numbering and citations: which source is [n], renumbering a brief by first citation, and the
default typed object read back from the brief."""

from __future__ import annotations

import re
from typing import Any

from graph.providers.offline import key_words
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
    by_url: dict[str, list[str]] = {}
    for i in ranked:
        by_url.setdefault(claims[i]["url"], []).append(clip(squash(claims[i]["text"]), CLAIM_CHARS))
    return [
        NumberedSource(n=n, url=url, title=sources[url]["title"], claims=texts)
        for n, (url, texts) in enumerate(by_url.items(), start=1)
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
    the brief: its opening paragraph, its cited bullets (or cited sentences), and the question's
    terms no claim covers."""
    paragraphs = [
        p.strip() for p in re.split(r"\n\s*\n", brief) if p.strip() and not p.strip().startswith("#")
    ]
    answer = strip_markers(paragraphs[0]) if paragraphs else ""
    findings = []
    bullets = [line[2:] for line in brief.splitlines() if line.lstrip().startswith(("- ", "* "))]
    if not bullets:
        bullets = re.split(r"(?<=[.!?\]])\s+(?=[A-Z])", " ".join(paragraphs))
    for bullet in bullets:
        numbers = list(dict.fromkeys(markers_in(bullet)))
        if numbers:
            findings.append({"claim": strip_markers(bullet.strip()), "citations": numbers})
    covered = set(terms(" ".join(c["text"] for c in claims)))
    open_questions = [
        f"What do sources say about “{word}” in: {squash(question).rstrip('?')}?"
        for word in key_words(question)
        if terms(word)[0] not in covered
    ]
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
