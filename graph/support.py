"""Every sentence supported: map each brief sentence to the claims it cites, ask the reasoner
whether those quotes support it, and remove the sentences they do not.

The offline reasoner judges by lexical and numeric entailment, an LLM by a judging call; either
way a sentence with no citation, or whose citations do not carry it, leaves the brief.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from graph.citations import MARKER, markers_in
from graph.providers.reasoning import StepBudget
from graph.providers.text import terms
from graph.state import Claim

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'“(\[]?[A-Z0-9])")
_LEADING_MARKERS = re.compile(r"^(?:\[\d+(?:\s*,\s*\d+)*\]\s*)+")
_BULLET = re.compile(r"^(\s*(?:[-*+]|\d+\.)\s+)")


_NUMBER_TOKEN = re.compile(r"\d+(?:[.,]\d+)*")


def entailed(sentence: str, quotes: list[str]) -> bool:
    """Lexical and numeric entailment: every number of the sentence and most of its content
    terms occur in the quotes it cites."""
    evidence = " ".join(quotes)
    numbers = {n.replace(",", "") for n in _NUMBER_TOKEN.findall(evidence)}
    stated = [n.replace(",", "") for n in _NUMBER_TOKEN.findall(re.sub(r"\[\d+\]", " ", sentence))]
    if any(n not in numbers for n in stated):
        return False
    wanted = set(terms(sentence))
    if not wanted:
        return bool(quotes)
    return len(wanted & set(terms(evidence))) / len(wanted) >= 0.7


@dataclass(frozen=True)
class Checked:
    brief: str
    cited: list[str]
    sentences: int
    supported: int
    removed: list[str]

    def as_dict(self) -> dict[str, int]:
        return {"sentences": self.sentences, "supported": self.supported, "removed": len(self.removed)}


def claim_sentences(brief: str) -> list[tuple[int, str]]:
    """(line number, sentence) of every statement in the brief: headings and questions are not
    statements, so they are not checked."""
    out = []
    for number, line in enumerate(brief.splitlines()):
        body = _BULLET.sub("", line).strip()
        if not body or line.lstrip().startswith("#"):
            continue
        for sentence in split_sentences(body):
            if not MARKER.sub("", sentence).rstrip().endswith("?"):
                out.append((number, sentence))
    return out


def split_sentences(text: str) -> list[str]:
    """Sentences of a line; markers written after the full stop (`... peak. [1]`) stay with
    the sentence they cite."""
    pieces: list[str] = []
    for piece in _SENTENCE_END.split(text):
        piece = piece.strip()
        lead = _LEADING_MARKERS.match(piece)
        if lead and pieces:
            pieces[-1] += " " + lead.group().strip()
            piece = piece[lead.end() :].strip()
        if piece:
            pieces.append(piece)
    return pieces


async def check_brief(
    reasoner, brief: str, cited: list[str], claims: list[Claim], budget: StepBudget
) -> Checked:
    """The brief without its unsupported sentences, markers renumbered, and the tally."""
    units = claim_sentences(brief)
    quotes_of: dict[str, list[str]] = {}
    for claim in claims:
        quotes_of.setdefault(claim["url"], []).append(claim["quote"])
    pairs, checkable = [], []
    for index, (_, sentence) in enumerate(units):
        urls = [cited[n - 1] for n in markers_in(sentence) if 0 < n <= len(cited)]
        quotes = [q for url in dict.fromkeys(urls) for q in quotes_of.get(url, [])]
        if quotes:
            pairs.append((sentence, quotes))
            checkable.append(index)
    verdicts = await reasoner.support(pairs, budget) if pairs else []
    supported = {checkable[i] for i, ok in enumerate(verdicts) if ok}
    removed = [units[i] for i in range(len(units)) if i not in supported]
    lines = brief.splitlines()
    for number, sentence in removed:
        lines[number] = lines[number].replace(sentence, "", 1)
    kept = [line for line in lines if _BULLET.sub("", line).strip() or not line.strip()]
    text = re.sub(r"[ \t]{2,}", " ", "\n".join(line.rstrip() for line in kept))
    text = drop_empty_sections(re.sub(r"\n{3,}", "\n\n", text).strip())
    text, order = renumber_by_first_use(text, cited)
    return Checked(text, order, len(units), len(supported), [s for _, s in removed])


def drop_empty_sections(brief: str) -> str:
    """Headings left with nothing under them (their sentences were removed) go too."""
    blocks = re.split(r"\n(?=#)", brief)
    kept = [b for b in blocks if not b.lstrip().startswith("#") or b.strip().count("\n") > 0]
    return "\n".join(kept).strip()


def renumber_by_first_use(brief: str, cited: list[str]) -> tuple[str, list[str]]:
    order: list[str] = []

    def replace(match: re.Match[str]) -> str:
        numbers = []
        for part in match.group(1).split(","):
            n = int(part)
            if not 0 < n <= len(cited):
                continue
            url = cited[n - 1]
            if url not in order:
                order.append(url)
            numbers.append(order.index(url) + 1)
        return "".join(f"[{n}]" for n in dict.fromkeys(numbers))

    return MARKER.sub(replace, brief), order
