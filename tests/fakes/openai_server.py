"""A fake OpenAI-compatible chat server over real HTTP, for tests and benchmarks.

    with FakeOpenAI() as llm:                       # 127.0.0.1, random port, its own thread
        ChatOpenAI(base_url=llm.base_url, api_key=llm.api_key, ...)

`POST /v1/chat/completions` answers by request content, never by call order (parallel callers
are the norm): the structured-output schema name picks a handler, which reads the JSON after
`INPUT:` in the last user message. Defaults suit the research graph's stages; tests replace
them with `llm.handlers[name] = fn(payload, request) -> dict` (or `Refusal(text)` to refuse).
`POST /v1/embeddings` answers deterministic vectors: one axis per group of synonyms in
`concepts` (so "doctor" is near "physician" although no word is shared), one for the rest.
Also: `fail_when` (status codes and headers for matching requests, N times), `latency`,
`usage` (token counts per answer), streaming
(`stream: true`, usage in the last chunk), and a `calls` log.

`FakeHTTPServer` is the reusable base (threaded, one route table) — the Tavily fake builds on it.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Handler = Callable[["Request"], "Response"]


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class Response:
    status: int = 200
    body: Any = None  # dict/list -> JSON; str/bytes as is
    headers: dict[str, str] = field(default_factory=dict)
    chunks: list[bytes] | None = None  # streamed as written (e.g. SSE)

    def encoded(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


class FakeHTTPServer:
    """A real HTTP server on 127.0.0.1 in a daemon thread, one thread per request."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Handler] = {}
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def route(self, method: str, path: str, handler: Handler) -> None:
        self.routes[(method.upper(), path)] = handler

    @property
    def url(self) -> str:
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeHTTPServer:
        fake = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                request = Request(
                    self.command,
                    self.path.split("?")[0],
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length) if length else b"",
                )
                with fake._lock:
                    fake.requests.append(request)
                handler = fake.routes.get((request.method, request.path)) or fake.routes.get(
                    (request.method, "*")
                )
                try:
                    response = handler(request) if handler else Response(404, {"error": "not found"})
                except Exception as exc:  # a broken handler is a 500, visible to the client
                    response = Response(500, {"error": f"{type(exc).__name__}: {exc}"})
                self.send_response(response.status)
                for key, value in response.headers.items():
                    self.send_header(key, value)
                if response.chunks is not None:
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for chunk in response.chunks:
                        self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                    self.wfile.write(b"0\r\n\r\n")
                    return
                body = response.encoded()
                self.send_header("Content-Length", str(len(body)))
                if "content-type" not in {k.lower() for k in response.headers}:
                    self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name=type(self).__name__, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class FailureRule:
    matches: Callable[[str, Any], bool]
    status: int
    times: int
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Refusal:
    """A handler's answer that makes the model refuse: `message.refusal` set, no content."""

    message: str


def input_payload(request_body: dict[str, Any]) -> Any:
    """The JSON after `INPUT:` in the last user message (the graph's prompt convention)."""
    for message in reversed(request_body.get("messages") or []):
        content = message.get("content")
        if isinstance(content, list):
            content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
        if message.get("role") == "user" and isinstance(content, str):
            _, sep, rest = content.partition("INPUT:")
            if sep:
                return json.loads(rest)
            return content
    return None


def schema_name(request_body: dict[str, Any]) -> str:
    fmt = request_body.get("response_format") or {}
    return (fmt.get("json_schema") or {}).get("name") or "text"


_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def page_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text) if len(s.strip()) > 20 and not s.strip().startswith("#")]


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9]+", text.lower()) if len(w) > 3}


def default_plan(payload: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    question = payload["question"]
    angles = [
        "overview",
        "evidence",
        "statistics",
        "criticism",
        "history",
        "examples",
        "comparison",
        "outlook",
    ]
    return {"queries": [question, *[f"{question} {a}" for a in angles][: max(0, payload["count"] - 1)]]}


def default_follow_ups(payload: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    done = {d.lower() for d in payload["done"]}
    candidates = [f"{payload['question']} follow-up {i}" for i in range(1, 10)]
    return {"queries": [c for c in candidates if c.lower() not in done][: payload["count"]]}


def default_extraction(payload: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    sentences = page_sentences(payload["page"])
    wanted = _words(payload["query"]) | _words(payload["question"])
    relevant = [s for s in sentences if _words(s) & wanted] or sentences[:1]
    chosen = relevant[: payload["max_findings"]]
    return {
        "summary": sentences[0] if sentences else payload["title"],
        "findings": [{"claim": f"The source states: {s}", "quote": s} for s in chosen],
    }


def default_brief(payload: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    sources = payload["sources"]
    if not sources:
        return {"brief": "Nothing relevant was found."}
    lead = " ".join(f"{s['claims'][0]} [{s['n']}]" for s in sources[:2] if s["claims"])
    bullets = [f"- {c} [{s['n']}]" for s in sources for c in s["claims"][:2]]
    return {"brief": f"{lead}\n\n## Key findings\n\n" + "\n".join(bullets)}


def default_critique(payload: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    return {"answers_question": True, "notes": []}


def default_support(payload: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    """A lenient judge: a sentence is supported when most of its longer words are in its quotes."""
    verdicts = []
    for item in payload["items"]:
        said, quoted = _words(item["sentence"]), _words(" ".join(item["quotes"]))
        verdicts.append(bool(said) and len(said & quoted) >= 0.6 * len(said))
    return {"supported": verdicts}


def default_typed(payload: dict[str, Any], request: dict[str, Any]) -> Any:
    schema = request["response_format"]["json_schema"]["schema"]
    return minimal_instance(schema)


def minimal_instance(schema: Any) -> Any:
    """A small instance for common schemas: required properties, one array item, typed leaves."""
    if not isinstance(schema, dict):
        return "fake"
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next(k for k in kind if k != "null")
    if kind == "object":
        return {k: minimal_instance(v) for k, v in (schema.get("properties") or {}).items()}
    if kind == "array":
        return [minimal_instance(schema.get("items", {}))] * max(1, schema.get("minItems", 1))
    return {"string": "fake answer", "integer": 1, "number": 1.5, "boolean": True, "null": None}.get(
        kind, "fake"
    )


SYNONYMS = (
    ("doctor", "doctors", "physician", "physicians", "clinician", "clinicians"),
    ("car", "cars", "automobile", "automobiles", "vehicle", "vehicles"),
    ("money", "cash", "funds", "currency"),
)


class FakeOpenAI(FakeHTTPServer):
    api_key = "sk-fake-openai"

    def __init__(
        self, *, latency: float = 0.0, usage: Callable[[dict[str, Any], str], tuple[int, int]] | None = None
    ) -> None:
        super().__init__()
        self.latency = latency
        self.usage = usage or self.estimated_usage
        self.handlers: dict[str, Callable[[Any, dict[str, Any]], Any]] = {
            "plan": default_plan,
            "follow_ups": default_follow_ups,
            "extraction": default_extraction,
            "brief": default_brief,
            "critique": default_critique,
            "support": default_support,
            "typed_result": default_typed,
        }
        self.failures: list[FailureRule] = []
        self.calls: list[tuple[str, Any]] = []
        self.route("POST", "/v1/chat/completions", self._complete)
        self.concepts: list[set[str]] = [set(group) for group in SYNONYMS]
        self.route("POST", "/v1/embeddings", self._embeddings)

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    def fail_when(
        self,
        matches: Callable[[str, Any], bool],
        *,
        status: int = 500,
        times: int = 1,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer `status` (with `headers`, e.g. Retry-After) to the next `times` requests for
        which `matches(schema_name, payload)`."""
        self.failures.append(FailureRule(matches, status, times, headers or {}))

    def calls_for(self, name: str) -> list[Any]:
        return [payload for schema, payload in self.calls if schema == name]

    @staticmethod
    def estimated_usage(request: dict[str, Any], content: str) -> tuple[int, int]:
        prompt_chars = sum(len(json.dumps(m.get("content"))) for m in request.get("messages") or [])
        return math.ceil(prompt_chars / 4), math.ceil(len(content) / 4)

    def embedding_of(self, text: str) -> list[float]:
        words = re.findall(r"[a-z]+", text.lower())
        counts = [sum(word in group for word in words) for group in self.concepts]
        vector = [*counts, 0.1 + sum(not any(word in g for g in self.concepts) for word in words) / 100]
        norm = math.sqrt(sum(x * x for x in vector))
        return [x / norm for x in vector]

    def _embeddings(self, request: Request) -> Response:
        body = request.json()
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return Response(401, {"error": {"message": "bad key", "type": "invalid_request_error"}})
        inputs = [body["input"]] if isinstance(body["input"], str) else body["input"]
        self.calls.append(("embeddings", inputs))
        return Response(
            body={
                "object": "list",
                "model": body["model"],
                "data": [
                    {"object": "embedding", "index": i, "embedding": self.embedding_of(text)}
                    for i, text in enumerate(inputs)
                ],
                "usage": {"prompt_tokens": len(inputs), "total_tokens": len(inputs)},
            }
        )

    def _complete(self, request: Request) -> Response:
        body = request.json()
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return Response(401, {"error": {"message": "invalid api key", "type": "invalid_request_error"}})
        name = schema_name(body)
        payload = input_payload(body)
        with self._lock:
            self.calls.append((name, payload))
            rule = next((r for r in self.failures if r.times > 0 and r.matches(name, payload)), None)
            if rule:
                rule.times -= 1
        if self.latency:
            time.sleep(self.latency)
        if rule:
            return Response(
                rule.status,
                {"error": {"message": f"injected {rule.status}", "type": "server_error"}},
                headers=rule.headers,
            )
        answer = self.handlers[name](payload, body)
        refusal = answer.message if isinstance(answer, Refusal) else None
        content = refusal or (answer if isinstance(answer, str) else json.dumps(answer))
        prompt_tokens, completion_tokens = self.usage(body, content)
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        if limit:
            completion_tokens = min(completion_tokens, limit)
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        ident = f"chatcmpl-{uuid.uuid4().hex[:12]}"
        if body.get("stream"):
            return self._stream(ident, body["model"], content, usage)
        return Response(
            200,
            {
                "id": ident,
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {
                            "role": "assistant",
                            "content": None if refusal else content,
                            "refusal": refusal,
                        },
                    }
                ],
                "usage": usage,
            },
        )

    @staticmethod
    def _stream(ident: str, model: str, content: str, usage: dict[str, int]) -> Response:
        def event(delta: dict[str, Any], finish: str | None = None, with_usage: bool = False) -> bytes:
            chunk = {
                "id": ident,
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": model,
                "choices": [] if with_usage else [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            if with_usage:
                chunk["usage"] = usage
            return f"data: {json.dumps(chunk)}\n\n".encode()

        chunks = [
            event({"role": "assistant", "content": ""}),
            event({"content": content}),
            event({}, "stop"),
            event({}, with_usage=True),
            b"data: [DONE]\n\n",
        ]
        return Response(200, headers={"Content-Type": "text/event-stream"}, chunks=chunks)
