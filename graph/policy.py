"""A run's source policy: which hosts and publication dates its sources may come from.

The policy is handed to the search provider where it supports one (Tavily's domain and date
parameters), and enforced here whatever the provider returns: every search result is judged
before it is read, and the reader judges every URL it fetches, redirect hops included.

- Domains match the host and its subdomains (`example.com` covers `docs.example.com`).
- Dates are inclusive and judged on the date a source records (a search result's published
  date, a collection document's `published_date`); a source with no known date passes.
- Local documents (`corpus://`, `collection://`) have no host: only dates apply to them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx

from graph.modes import InvalidResearchRequest

MAX_DOMAINS = 50
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_WEB_SCHEMES = ("http", "https")


def normalised_domain(entry: Any) -> str | None:
    """A bare host name in its ASCII form, or None when `entry` is not one (a URL, a wildcard,
    a port or a path are refused rather than guessed at)."""
    if not isinstance(entry, str):
        return None
    name = entry.strip().lower().removesuffix(".")
    try:
        name = name.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    labels = name.split(".")
    if not name or len(name) > 253 or not all(_LABEL.match(label) for label in labels):
        return None
    return name


def _on_or_under(host: str, domains: tuple[str, ...]) -> bool:
    return any(host == d or host.endswith("." + d) for d in domains)


def _as_date(value: Any, field: str) -> date | None:
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise InvalidResearchRequest(field, "must be a date, YYYY-MM-DD") from None


@dataclass(frozen=True)
class SourcePolicy:
    include_domains: tuple[str, ...] = ()
    exclude_domains: tuple[str, ...] = ()
    after_date: date | None = None
    before_date: date | None = None

    @classmethod
    def parse(cls, raw: Mapping[str, Any] | None) -> SourcePolicy:
        """The policy of a request's `source_policy` object. Raises InvalidResearchRequest naming
        the offending entry, e.g. `source_policy.include_domains[3]`."""
        raw = raw or {}
        lists: dict[str, tuple[str, ...]] = {}
        for key in ("include_domains", "exclude_domains"):
            entries = raw.get(key) or []
            if len(entries) > MAX_DOMAINS:
                raise InvalidResearchRequest(f"source_policy.{key}", f"at most {MAX_DOMAINS} domains")
            names = []
            for i, entry in enumerate(entries):
                name = normalised_domain(entry)
                if name is None:
                    raise InvalidResearchRequest(
                        f"source_policy.{key}[{i}]", "must be a host name such as example.com"
                    )
                names.append(name)
            lists[key] = tuple(dict.fromkeys(names))
        after = _as_date(raw.get("after_date"), "source_policy.after_date")
        before = _as_date(raw.get("before_date"), "source_policy.before_date")
        if after and before and after > before:
            raise InvalidResearchRequest("source_policy.after_date", "must not be later than before_date")
        return cls(lists["include_domains"], lists["exclude_domains"], after, before)

    def allows_host(self, host: str) -> bool:
        host = host.lower().removesuffix(".")
        if self.include_domains and not _on_or_under(host, self.include_domains):
            return False
        return not _on_or_under(host, self.exclude_domains)

    def allows_url(self, url: str) -> bool:
        """Web URLs by host; a local document (no web scheme) has no host to judge."""
        try:
            parsed = httpx.URL(url)
        except Exception:
            return False
        if parsed.scheme not in _WEB_SCHEMES:
            return True
        return self.allows_host(parsed.raw_host.decode("ascii", errors="replace"))

    def allows_date(self, published: date | None) -> bool:
        if published is None:
            return True
        if self.after_date and published < self.after_date:
            return False
        return not (self.before_date and published > self.before_date)

    def allows(self, url: str, published: date | None) -> bool:
        return self.allows_url(url) and self.allows_date(published)


OPEN = SourcePolicy()
