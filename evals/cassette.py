"""Record and replay provider HTTP traffic (LLM, search, page fetches) for offline, repeatable evals.

One `Cassette` (a JSON-lines file) is shared by every upstream client of a run; each client gets its
own transport from it:

    cassette = Cassette.record("run.cassette.jsonl")          # truncates, then appends exchanges
    llm = httpx.AsyncClient(transport=cassette.transport(httpx.AsyncHTTPTransport()))

    cassette = Cassette.replay("run.cassette.jsonl")          # serves recorded responses, offline
    llm = httpx.AsyncClient(transport=cassette.transport())

`Cassette.record(path, meta={...})` writes a first line `{"meta": {...}}` describing the run (which
providers, base URLs, models: never keys), so a replay can rebuild the same clients from the file.

Exchanges are matched by a *request key* (method, canonical URL, SHA-256 of the canonical body),
never by call order, because research branches run in parallel and interleave differently on
every run. Identical requests are served their recorded responses in recorded order (the last one
repeats). Secrets are kept out of both the key and the file: API-key query parameters and JSON body
fields are redacted, request headers are not stored, and request bodies are stored only as hashes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

CassetteMode = Literal["record", "replay"]

SECRET_BODY_FIELDS = frozenset(
    {"api_key", "apikey", "api-key", "access_token", "client_secret", "secret", "password"}
)
SECRET_QUERY_PARAMS = SECRET_BODY_FIELDS | {"key", "token", "sig", "signature"}
REDACTED = "REDACTED"
# Stored bodies are already decoded, and lengths/framing belong to the live connection.
_DROPPED_RESPONSE_HEADERS = frozenset(
    {"content-encoding", "content-length", "transfer-encoding", "connection", "keep-alive", "set-cookie"}
)


class CassetteError(ValueError):
    """A cassette file that cannot be read."""


class CassetteMiss(LookupError):
    """Replay met a request the cassette has no recording for."""


@dataclass(frozen=True, order=True)
class RequestKey:
    method: str
    url: str
    body_sha256: str

    def __str__(self) -> str:
        return f"{self.method} {self.url} body sha256={self.body_sha256[:12]}"


def request_key(request: httpx.Request) -> RequestKey:
    """Method, URL with sorted and redacted query, and a hash of the body (JSON canonicalised:
    key order and secret fields do not matter). The request body must already be read."""
    parts = urlsplit(str(request.url))
    query = sorted(
        (name, REDACTED if name.lower() in SECRET_QUERY_PARAMS else value)
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
    )
    url = urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", urlencode(query), ""))
    return RequestKey(
        method=request.method.upper(),
        url=url,
        body_sha256=hashlib.sha256(_canonical_body(request.content)).hexdigest(),
    )


def _canonical_body(body: bytes) -> bytes:
    if not body or body.lstrip()[:1] not in (b"{", b"["):
        return body
    try:
        parsed = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return body
    return json.dumps(_redact(parsed), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (REDACTED if k.lower() in SECRET_BODY_FIELDS else _redact(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v) for v in value]
    return value


@dataclass(frozen=True)
class RecordedResponse:
    status_code: int
    headers: list[tuple[str, str]]
    body: str
    body_encoding: Literal["utf-8", "base64"]

    @classmethod
    def of(cls, status_code: int, headers: httpx.Headers, content: bytes) -> RecordedResponse:
        kept = [
            (name, value)
            for name, value in headers.multi_items()
            if name.lower() not in _DROPPED_RESPONSE_HEADERS
        ]
        try:
            return cls(status_code, kept, content.decode("utf-8"), "utf-8")
        except UnicodeDecodeError:
            return cls(status_code, kept, base64.b64encode(content).decode("ascii"), "base64")

    def content(self) -> bytes:
        return self.body.encode("utf-8") if self.body_encoding == "utf-8" else base64.b64decode(self.body)

    def to_response(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(self.status_code, headers=self.headers, content=self.content(), request=request)


class Cassette:
    """The exchanges of one run. Use `Cassette.record(path)` or `Cassette.replay(path)`."""

    def __init__(self, path: str | Path, mode: CassetteMode) -> None:
        self.path = Path(path)
        self.mode = mode
        self._lock = threading.Lock()
        self._recorded: dict[RequestKey, list[RecordedResponse]] = defaultdict(list)
        self._served: dict[RequestKey, int] = defaultdict(int)
        self.meta: dict[str, Any] = {}
        # Requests replay could not serve. A miss raises inside the caller, which may absorb it (a
        # research branch records provider errors and goes on), so the run checks this list too.
        self.misses: list[RequestKey] = []

    @classmethod
    def record(cls, path: str | Path, *, meta: dict[str, Any] | None = None) -> Cassette:
        cassette = cls(path, "record")
        cassette.meta = dict(meta or {})
        cassette.path.parent.mkdir(parents=True, exist_ok=True)
        header = (
            json.dumps({"meta": cassette.meta}, ensure_ascii=False, sort_keys=True) + "\n" if meta else ""
        )
        cassette.path.write_text(header, encoding="utf-8")
        return cassette

    @classmethod
    def replay(cls, path: str | Path) -> Cassette:
        cassette = cls(path, "replay")
        try:
            lines = cassette.path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise CassetteError(f"{cassette.path}: cannot read cassette: {exc.strerror or exc}") from exc
        for number, line in enumerate(lines, start=1):
            if number == 1 and line.startswith('{"meta":'):
                cassette.meta = _parse_meta(line, f"{cassette.path}:{number}")
            elif line.strip():
                key, response = _parse_exchange(line, f"{cassette.path}:{number}")
                cassette._recorded[key].append(response)
        return cassette

    def transport(
        self, upstream: httpx.AsyncBaseTransport | httpx.BaseTransport | None = None
    ) -> CassetteTransport:
        if self.mode == "record" and upstream is None:
            raise ValueError("recording needs the real upstream transport to forward to")
        return CassetteTransport(self, upstream)

    def __len__(self) -> int:
        return sum(len(responses) for responses in self._recorded.values())

    def keys(self) -> list[RequestKey]:
        return sorted(self._recorded)

    def store(self, key: RequestKey, response: RecordedResponse) -> None:
        line = json.dumps({"request": asdict(key), "response": asdict(response)}, ensure_ascii=False)
        with self._lock:
            self._recorded[key].append(response)
            with self.path.open("a", encoding="utf-8") as file:
                file.write(line + "\n")

    def lookup(self, key: RequestKey) -> RecordedResponse:
        with self._lock:
            responses = self._recorded.get(key)
            if not responses:
                self.misses.append(key)
                raise CassetteMiss(self._miss_message(key))
            index = min(self._served[key], len(responses) - 1)
            self._served[key] += 1
            return responses[index]

    def _miss_message(self, key: RequestKey) -> str:
        same_url = [k for k in self._recorded if (k.method, k.url) == (key.method, key.url)]
        hint = (
            f"; {len(same_url)} recording(s) for this URL have other bodies "
            f"({', '.join(k.body_sha256[:12] for k in sorted(same_url)[:5])}): did a prompt or query change?"
            if same_url
            else "; nothing was recorded for this URL"
        )
        return f"no recorded response in {self.path} for {key}{hint}. Re-record the cassette with --record."


def _parse_meta(line: str, origin: str) -> dict[str, Any]:
    try:
        meta = json.loads(line)["meta"]
    except (json.JSONDecodeError, KeyError) as exc:
        raise CassetteError(f"{origin}: malformed cassette header: {exc}") from None
    if not isinstance(meta, dict):
        raise CassetteError(f"{origin}: the cassette header's meta must be an object")
    return meta


def _parse_exchange(line: str, origin: str) -> tuple[RequestKey, RecordedResponse]:
    try:
        raw = json.loads(line)
        key = RequestKey(**raw["request"])
        response = raw["response"]
        recorded = RecordedResponse(
            status_code=int(response["status_code"]),
            headers=[(str(n), str(v)) for n, v in response["headers"]],
            body=response["body"],
            body_encoding=response["body_encoding"],
        )
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise CassetteError(f"{origin}: malformed cassette entry: {exc}") from None
    if recorded.body_encoding not in ("utf-8", "base64"):
        raise CassetteError(f"{origin}: unknown body_encoding {recorded.body_encoding!r}")
    return key, recorded


class CassetteTransport(httpx.AsyncBaseTransport, httpx.BaseTransport):
    """An httpx transport (sync and async) that records through `upstream` or replays from the cassette."""

    def __init__(
        self, cassette: Cassette, upstream: httpx.AsyncBaseTransport | httpx.BaseTransport | None
    ) -> None:
        self.cassette = cassette
        self.upstream = upstream

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        key = request_key(request)
        if self.cassette.mode == "replay":
            return self.cassette.lookup(key).to_response(request)
        if not isinstance(self.upstream, httpx.AsyncBaseTransport):
            raise TypeError("an async client needs an async upstream transport")
        live = await self.upstream.handle_async_request(request)
        try:
            content = await live.aread()
        finally:
            await live.aclose()
        return self._keep(key, live, content).to_response(request)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        key = request_key(request)
        if self.cassette.mode == "replay":
            return self.cassette.lookup(key).to_response(request)
        if not isinstance(self.upstream, httpx.BaseTransport):
            raise TypeError("a sync client needs a sync upstream transport")
        live = self.upstream.handle_request(request)
        try:
            content = live.read()
        finally:
            live.close()
        return self._keep(key, live, content).to_response(request)

    def _keep(self, key: RequestKey, live: httpx.Response, content: bytes) -> RecordedResponse:
        # The client gets the recorded form even while recording, so record and replay runs see the same bytes.
        recorded = RecordedResponse.of(live.status_code, live.headers, content)
        self.cassette.store(key, recorded)
        return recorded

    async def aclose(self) -> None:
        if isinstance(self.upstream, httpx.AsyncBaseTransport):
            await self.upstream.aclose()

    def close(self) -> None:
        if isinstance(self.upstream, httpx.BaseTransport):
            self.upstream.close()
