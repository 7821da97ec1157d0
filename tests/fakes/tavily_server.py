"""A fake Tavily search API over real HTTP, for tests and benchmarks.

    with FakeTavily(documents) as tavily:           # 127.0.0.1, random port, its own thread
        AsyncTavilyClient(api_key=tavily.api_key, api_base_url=tavily.url)

`POST /search` ranks `documents` ({url, title, text, optional published_date}) by word overlap
with the query and returns Tavily's response shape, with `raw_content` when asked. Like a
provider that ignores them, it does not apply `include_domains` or dates (`requests` shows
what was asked). Answers depend on the request only. `fail_when(query_predicate, status,
times)`, `delay_when(query_predicate, seconds)` and `latency` shape failures and timing;
`calls` logs the queries; `on_request` lets a test act at the moment a given query arrives
(e.g. kill a worker mid-wave).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from typing import Any

from tests.fakes.openai_server import FailureRule, FakeHTTPServer, Request, Response


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9]+", text.lower()) if len(w) > 2}


class FakeTavily(FakeHTTPServer):
    api_key = "tvly-fake-key"

    def __init__(
        self, documents: list[dict[str, str]], *, latency: float = 0.0, raw_content: bool = True
    ) -> None:
        """`raw_content=False` makes callers fetch each page themselves (exercises a reader)."""
        super().__init__()
        self.documents = documents
        self.latency = latency
        self.raw_content = raw_content
        self.failures: list[FailureRule] = []
        self.delays: list[tuple[Callable[[str], bool], float]] = []
        self.calls: list[str] = []
        self.on_request: Callable[[str], None] | None = None
        self.release = threading.Event()  # set() to end every pending `delay_when` early
        self.route("POST", "/search", self._search)

    def fail_when(self, matches: Callable[[str], bool], *, status: int = 500, times: int = 1) -> None:
        self.failures.append(FailureRule(lambda _name, query: matches(query), status, times))

    def delay_when(self, matches: Callable[[str], bool], seconds: float) -> None:
        self.delays.append((matches, seconds))

    def calls_for(self, query: str) -> int:
        return sum(1 for q in self.calls if q == query)

    def rank(self, query: str, limit: int) -> list[tuple[float, dict[str, str]]]:
        wanted = _words(query)
        scored = []
        for doc in self.documents:
            have = _words(doc["title"] + " " + doc["text"])
            overlap = len(wanted & have)
            if overlap:
                scored.append((overlap / (len(wanted) or 1), doc))
        scored.sort(key=lambda item: -item[0])
        return scored[:limit]

    def _search(self, request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return Response(401, {"detail": {"error": "Unauthorized: missing or invalid API key."}})
        body = request.json()
        query = body.get("query", "")
        with self._lock:
            self.calls.append(query)
            rule = next((r for r in self.failures if r.times > 0 and r.matches("search", query)), None)
            if rule:
                rule.times -= 1
        if self.on_request:
            self.on_request(query)
        delay = self.latency + sum(seconds for matches, seconds in self.delays if matches(query))
        if delay:
            self.release.wait(delay)
        if rule:
            return Response(rule.status, {"detail": {"error": f"injected {rule.status}"}})
        started = time.perf_counter()
        results = []
        for score, doc in self.rank(query, int(body.get("max_results") or 5)):
            item: dict[str, Any] = {
                "title": doc["title"],
                "url": doc["url"],
                "content": doc["text"][:300],
                "score": round(score, 4),
            }
            if doc.get("published_date"):
                item["published_date"] = doc["published_date"]
            if body.get("include_raw_content") and self.raw_content:
                item["raw_content"] = doc["text"]
            results.append(item)
        return Response(
            200,
            {
                "query": query,
                "follow_up_questions": None,
                "answer": None,
                "images": [],
                "results": results,
                "response_time": round(time.perf_counter() - started, 4),
                "request_id": f"req-{len(self.calls)}",
            },
        )
