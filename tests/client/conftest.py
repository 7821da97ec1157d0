"""A real `infrence serve` for the Python client, accounts opened through its front door, and a
TCP proxy that cuts an event stream in the middle (a dropped connection, for resume tests)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from tests.accounts import Account
from tests.conftest import ServerProcess, module_server, open_account_on


@pytest.fixture(scope="module")
def client_server(database_url, redis_url, tmp_path_factory) -> Iterator[ServerProcess]:
    """One `infrence serve` for the module, with a low research-create limit so a test can
    meet a 429."""
    yield from module_server(
        database_url,
        redis_url,
        tmp_path_factory,
        workers=2,
        INFRENCE_RESEARCH_CREATES_PER_MINUTE="4",
        INFRENCE_PUBLIC_URL="http://testserver",
    )


@pytest.fixture
async def account(client_server, database_url) -> Account:
    return await open_account_on(client_server, database_url, credits=1000)


@pytest.fixture
async def broke_account(client_server, database_url) -> Account:
    return await open_account_on(client_server, database_url, credits=0)


@dataclass
class CuttingProxy:
    """Forwards TCP to `upstream_port`; the first connection that asks for an event stream is
    closed after `cut_after` complete SSE events have passed through."""

    upstream_port: int
    cut_after: int = 2
    port: int = 0
    request_heads: list[bytes] = field(default_factory=list)
    cuts: int = 0

    def start(self) -> CuttingProxy:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                downstream, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(downstream,), daemon=True).start()

    def _serve(self, downstream: socket.socket) -> None:
        upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = downstream.recv(65536)
            if not chunk:
                break
            head += chunk
        self.request_heads.append(head)
        upstream.sendall(head)
        cut = b"/events" in head.split(b"\r\n", 1)[0] and self.cuts == 0
        if cut:
            self.cuts += 1
        threading.Thread(target=self._pipe, args=(downstream, upstream, None), daemon=True).start()
        self._pipe(upstream, downstream, self.cut_after if cut else None)

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket, cut_after: int | None) -> None:
        events = 0
        try:
            while chunk := source.recv(65536):
                if cut_after is not None:
                    events += chunk.count(b"\n\n")
                    if events >= cut_after:  # pass part of the chunk, then drop the line
                        sink.sendall(chunk[: chunk.index(b"\n\n") + 2])
                        break
                sink.sendall(chunk)
        except OSError:
            pass
        for s in (source, sink):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


@pytest.fixture
def cutting_proxy(client_server) -> Iterator[CuttingProxy]:
    proxy = CuttingProxy(client_server.port).start()
    yield proxy
    proxy.stop()
