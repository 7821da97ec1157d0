"""Values parsed from evidence: numbers, ranges and dates, as a quote states them.

"usually between 1.2 and 2.0" is a range 1.2–2.0, "usually 0.75" is 0.75, "1,870 metres" is 1870
with its unit. Digits inside names ("k1", "BM25", "T4") are not numbers. A field with no value
in its evidence gets none — never a default.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from graph.relevance import tokens

_NUM = r"(?<![\w.])-?\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\w])|(?<![\w.])-?\d+(?:\.\d+)?(?![\w.]\w)"
_UNIT = r"(?:\s?(?P<unit>%|percent|per cent|[A-Za-zµ°]{1,12}\b))?"
_RANGE = re.compile(
    rf"(?:between\s+(?P<a1>{_NUM})\s+and\s+(?P<b1>{_NUM})"
    rf"|from\s+(?P<a2>{_NUM})\s+to\s+(?P<b2>{_NUM})"
    rf"|(?P<a3>{_NUM})\s?(?:–|—|-|to)\s?(?P<b3>{_NUM})){_UNIT}",
    re.IGNORECASE,
)
_SINGLE = re.compile(rf"(?P<n>{_NUM}){_UNIT}")
MONTHS = {
    m: i + 1
    for i, m in enumerate(
        [
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        ]
    )
}
_DATE = re.compile(
    r"\b(?:(?P<d1>\d{1,2})\s+(?P<m1>[A-Z][a-z]+)\s+(?P<y1>\d{4})"
    r"|(?P<m2>[A-Z][a-z]+)\s+(?P<d2>\d{1,2}),\s+(?P<y2>\d{4})"
    r"|(?P<y3>\d{4})-(?P<m3>\d{2})-(?P<d3>\d{2}))\b"
)


@dataclass(frozen=True)
class Quantity:
    low: float
    high: float | None  # None: one value, not a range
    unit: str
    text: str
    start: int

    @property
    def is_range(self) -> bool:
        return self.high is not None

    @property
    def value(self) -> float:
        return self.low


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def quantities(text: str) -> list[Quantity]:
    """Every range and number in `text`, in order; a number inside a range is not listed again."""
    found: list[Quantity] = []
    taken: list[tuple[int, int]] = []
    for match in _RANGE.finditer(text):
        a = match.group("a1") or match.group("a2") or match.group("a3")
        b = match.group("b1") or match.group("b2") or match.group("b3")
        low, high = _number(a), _number(b)
        if high <= low:
            continue
        found.append(Quantity(low, high, (match.group("unit") or "").strip(), match.group(), match.start()))
        taken.append(match.span())
    for match in _SINGLE.finditer(text):
        if any(a <= match.start() < b for a, b in taken):
            continue
        unit = (match.group("unit") or "").strip()
        if unit.lower() in ("and", "to", "or", "of", "the", "in", "on", "at", "for"):
            unit = ""
        found.append(Quantity(_number(match.group("n")), None, unit, match.group().strip(), match.start()))
    return sorted(found, key=lambda q: q.start)


def quantity_near(text: str, name: str) -> Quantity | None:
    """The value a sentence gives for `name`: the first one after the name is mentioned, else
    the sentence's only one; None when the sentence gives none."""
    found = quantities(text)
    if not found:
        return None
    wanted = set(tokens(name))
    mention = None
    for match in re.finditer(r"[^\W_]+", text):
        if set(tokens(match.group())) & wanted:
            mention = match.end()
            break
    if mention is not None:
        after = [q for q in found if q.start >= mention]
        if after:
            return after[0]
    return found[0] if len(found) == 1 or mention is None else None


def date_in(text: str) -> date | None:
    for match in _DATE.finditer(text):
        try:
            if match.group("y3"):
                return date(int(match.group("y3")), int(match.group("m3")), int(match.group("d3")))
            month = MONTHS.get((match.group("m1") or match.group("m2") or "").lower())
            if month:
                day = int(match.group("d1") or match.group("d2"))
                return date(int(match.group("y1") or match.group("y2")), month, day)
        except ValueError:
            continue
    return None
