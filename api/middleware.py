"""The one ASGI middleware every HTTP request passes: request id, latency metric, security
headers and the body-size cap, in one layer. Four separate layers cost four wrapped `send`s per
message (an SSE stream pays them on every event) and four header scans per request."""

from __future__ import annotations

import json
import re
import secrets
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.metrics import HTTP_LATENCY
from core.logging import log_context

# On every answer unless the route set its own (the dashboard sets a full Content-Security-Policy
# and a same-origin Referrer-Policy): no MIME sniffing, no framing, no referrer leaking job ids.
SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy", b"frame-ancestors 'none'"),
)
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class HttpEdge:
    """For every HTTP request:
    - an id (the caller's `X-Request-ID` when it is sane, else a new one) that every log line of
      the request carries and the response echoes;
    - the latency histogram, labelled by the matched route's template (never the raw path, which
      would make one series per job id);
    - the security headers above;
    - bodies over `max_bytes` refused with 413, by Content-Length or while streaming; paths
      matching `upload_path` (file uploads) may carry up to `upload_bytes` instead."""

    def __init__(self, app: ASGIApp, max_bytes: int, upload_path: str | None = None, upload_bytes: int = 0):
        self.app = app
        self.max_bytes = max_bytes
        self.upload_path = re.compile(upload_path) if upload_path else None
        self.upload_bytes = upload_bytes
        self._latency: dict[tuple[str, str, int], object] = {}  # the histogram's children, by labels

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        offered = declared = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                offered = value.decode("latin-1")
            elif name == b"content-length":
                declared = value
        request_id = offered if offered and _SANE_REQUEST_ID.match(offered) else secrets.token_hex(16)
        id_header = (b"x-request-id", request_id.encode())
        uploading = self.upload_path is not None and self.upload_path.match(scope["path"])
        limit = self.upload_bytes if uploading else self.max_bytes
        status = 500
        too_large = replaced = False

        async def edge_send(message: Message) -> None:
            nonlocal status, replaced
            if too_large:  # whatever the app answers to a body cut short, the client gets the 413
                if not replaced:
                    replaced = True
                    await self._refuse(send, limit, id_header)
                return
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [h for h in message.get("headers") or () if h[0].lower() != b"x-request-id"]
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in SECURITY_HEADERS if h[0] not in present)
                headers.append(id_header)
                message = {**message, "headers": headers}
            await send(message)

        async def counting_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    too_large = True
                    raise _TooLarge()
            return message

        received = 0
        try:
            if declared is not None and declared.isdigit() and int(declared) > limit:
                status = 413
                await self._refuse(send, limit, id_header)
                return
            # A declared length is held to by the HTTP server's framing; only a chunked (or
            # absent) body is counted as it streams.
            with log_context(request_id=request_id):
                await self.app(scope, receive if declared is not None else counting_receive, edge_send)
        except _TooLarge:
            if not replaced:
                await self._refuse(send, limit, id_header)
        finally:
            if too_large:
                status = 413
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            if route != "/metrics":
                labels = (scope["method"], route, status)
                child = self._latency.get(labels)
                if child is None:
                    child = self._latency[labels] = HTTP_LATENCY.labels(
                        method=labels[0], route=route, status=str(status)
                    )
                child.observe(time.perf_counter() - started)

    async def _refuse(self, send: Send, limit: int, id_header: tuple[bytes, bytes]) -> None:
        body = json.dumps(
            {"detail": f"Request body larger than {limit} bytes", "code": "payload_too_large"}
        ).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            *SECURITY_HEADERS,
            id_header,
        ]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass
