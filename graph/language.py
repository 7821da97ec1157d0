"""Output language: the BCP 47 tag (`de`, `pt-BR`, `zh-Hans`) a run writes its brief and typed
string values in. Only a model can write in another language; the offline reasoner quotes its
sources, so its brief is in their language, and the result says so."""

from __future__ import annotations

import re

from graph.modes import InvalidResearchRequest

# RFC 5646 well-formedness (language, extlang, script, region, variants, extensions, private
# use), with the primary language held to the 2-3 letters of ISO 639 so `english` is refused.
_TAG = re.compile(
    r"^[a-z]{2,3}(?:-[a-z]{3}){0,3}"
    r"(?:-[a-z]{4})?"
    r"(?:-(?:[a-z]{2}|[0-9]{3}))?"
    r"(?:-(?:[a-z0-9]{5,8}|[0-9][a-z0-9]{3}))*"
    r"(?:-[0-9a-wyz](?:-[a-z0-9]{2,8})+)*"
    r"(?:-x(?:-[a-z0-9]{1,8})+)?$",
    re.IGNORECASE,
)
MAX_TAG_CHARS = 35


def language_tag(value: str) -> str:
    """`value` if it is a well-formed BCP 47 tag; else InvalidResearchRequest on `output_language`."""
    if len(value) > MAX_TAG_CHARS or not _TAG.match(value):
        raise InvalidResearchRequest(
            "output_language", "must be a BCP 47 language tag such as `de` or `pt-BR`"
        )
    return value


def offline_note(tag: str) -> str:
    """What `usage.output_language_note` says when the offline reasoner could not honour `tag`."""
    return (
        f"output_language {tag} was not applied: the offline reasoner writes no new text, so the "
        "brief quotes its sources in their own language"
    )
