"""Extract the runnable examples of a README: every ```sh and ```python block, except those
preceded by `<!-- readme-test: skip (reason) -->` (servers, placeholders, the test command)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

FENCE = re.compile(r"^```(\w*)\s*$")
SKIP = re.compile(r"^<!-- readme-test: skip \((.+)\) -->$")
RUNNABLE = {"sh": "sh", "bash": "sh", "shell": "sh", "python": "python", "py": "python"}


@dataclass(frozen=True)
class Example:
    line: int  # 1-based line of the opening fence
    language: str  # "sh" or "python"
    code: str
    skip_reason: str | None


def examples(readme: Path) -> list[Example]:
    found: list[Example] = []
    lines = readme.read_text().splitlines()
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "```")
        language = RUNNABLE.get(opening.group(1).lower())
        if language:
            previous = next((lines[k].strip() for k in range(i - 1, -1, -1) if lines[k].strip()), "")
            skip = SKIP.match(previous)
            found.append(
                Example(i + 1, language, "\n".join(lines[i + 1 : end]), skip.group(1) if skip else None)
            )
        i = end + 1
    return found
