"""SSRF guard: outbound HTTP that refuses loopback, private, link-local, multicast and reserved
addresses — checked when the connection is opened, on the address actually dialled.

The guard is an httpcore network backend: it resolves the host itself, refuses if *any*
resolved address is not public, and connects to the vetted IP. TLS still verifies the original
host name (httpcore passes it separately as SNI), and every redirect hop connects through the
same check, so neither DNS rebinding nor a redirect to 127.0.0.1 gets through.

IPv6 forms that carry an IPv4 address are judged by that address (IPv4-mapped, NAT64), and
the tunnel prefixes whose embedded address a relay would dial for us are refused outright:
6to4 (2002::/16), Teredo (2001::/32) and the deprecated IPv4-compatible form (::/96).
Only ports 80 and 443 are dialled unless private URLs are allowed (dev and tests), so a
public host cannot be used to reach its own SMTP, Redis or admin ports.

Reused by the reader and by the webhook sender: `guarded_client(allow_private=...)`; MCP
connectors, whose SDK speaks httpx2, get the same backend on its httpcore2 pool
(`guarded_httpx2_client`).
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import ipaddress
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable
from types import ModuleType
from typing import Any

import certifi
import httpcore
import httpcore2
import httpx
import httpx2


class BlockedAddress(httpx.ConnectError):
    """The URL resolves to an address outbound requests must not reach."""


PUBLIC_PORTS = frozenset({80, 443})
_SIX_TO_FOUR = ipaddress.ip_network("2002::/16")
_TEREDO = ipaddress.ip_network("2001::/32")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def is_public_address(address: str) -> bool:
    """True for globally routable unicast addresses only."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _SIX_TO_FOUR or ip in _TEREDO or ip in _IPV4_COMPATIBLE:
            return False
        if ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        elif ip in _NAT64:
            ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


async def resolve(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Connects only to public addresses (unless `allow_private`), resolving the host itself.
    `core` is the httpcore flavour of the pool it serves (httpcore, or httpcore2 for httpx2)."""

    def __init__(
        self,
        *,
        allow_private: bool = False,
        resolver: Callable[[str, int], Awaitable[list[str]]] = resolve,
        core: ModuleType = httpcore,
    ):
        self.allow_private = allow_private
        self.resolver = resolver
        self._core = core
        self._inner = importlib.import_module(f"{core.__name__}._backends.auto").AutoBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await asyncio.wait_for(self.resolver(host, port), timeout)
        except (TimeoutError, OSError) as exc:
            raise self._core.ConnectError(f"cannot resolve {host}: {exc}") from exc
        if not addresses:
            raise self._core.ConnectError(f"cannot resolve {host}")
        if not self.allow_private:
            refused = [a for a in addresses if not is_public_address(a)]
            if refused:
                raise self._core.ConnectError(f"refused: {host} resolves to non-public address {refused[0]}")
            if port not in PUBLIC_PORTS:
                raise self._core.ConnectError(f"refused: port {port} is not 80 or 443")
        last: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except self._core.ConnectError as exc:
                last = exc
        raise last or self._core.ConnectError(f"cannot connect to {host}")

    async def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.AsyncNetworkStream:
        raise self._core.ConnectError("unix sockets are not allowed")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process: building one costs ~30 ms of CPU, and every job's
    providers open HTTP clients (the CA bundle is the same for all of them)."""
    return ssl.create_default_context(cafile=certifi.where())


def guarded_transport(
    *, allow_private: bool = False, backend: GuardedBackend | None = None, **transport_kwargs: Any
) -> httpx.AsyncHTTPTransport:
    """An httpx transport whose every connection passes the address check."""
    transport = httpx.AsyncHTTPTransport(verify=tls_context(), **transport_kwargs)
    # httpcore's pool takes a network backend; httpx builds the pool without exposing that knob.
    transport._pool._network_backend = backend or GuardedBackend(allow_private=allow_private)
    return transport


def guarded_client(
    *,
    allow_private: bool = False,
    timeout: httpx.Timeout | float = 10.0,
    backend: GuardedBackend | None = None,
    **client_kwargs: Any,
) -> httpx.AsyncClient:
    """An AsyncClient for untrusted URLs: guarded connects, no env proxies."""
    return httpx.AsyncClient(
        transport=guarded_transport(allow_private=allow_private, backend=backend),
        timeout=timeout,
        trust_env=False,
        **client_kwargs,
    )


def guarded_httpx2_client(
    *, allow_private: bool = False, timeout: float = 10.0, headers: dict[str, str] | None = None
) -> httpx2.AsyncClient:
    """`guarded_client` for httpx2 (the `mcp` SDK's HTTP client): guarded connects, no env proxies."""
    transport = httpx2.AsyncHTTPTransport(verify=tls_context(), trust_env=False)
    transport._pool._network_backend = GuardedBackend(allow_private=allow_private, core=httpcore2)
    return httpx2.AsyncClient(transport=transport, timeout=timeout, headers=headers, trust_env=False)


def is_http_url(url: str) -> bool:
    try:
        parsed = httpx.URL(url)
    except Exception:
        return False
    return parsed.scheme in ("http", "https") and bool(parsed.host)
