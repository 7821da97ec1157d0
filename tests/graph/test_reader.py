"""The reader and its SSRF guard, against a real local web server."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from httpcore._backends.auto import AutoBackend

from graph.providers.netguard import GuardedBackend, guarded_client, guarded_transport, is_public_address
from graph.providers.reader import PageReader, UnreadablePage
from tests.fakes.openai_server import FakeHTTPServer, Response
from tests.graph.conftest import CORPUS

ARTICLE = (CORPUS / "batteries.html").read_text()


@pytest.fixture(scope="module")
def website() -> Iterator[FakeHTTPServer]:
    site = FakeHTTPServer()
    site.route(
        "GET", "/article", lambda r: Response(200, ARTICLE, {"Content-Type": "text/html; charset=utf-8"})
    )
    site.route(
        "GET",
        "/notes.txt",
        lambda r: Response(200, "Plain notes\n\nSome text here.", {"Content-Type": "text/plain"}),
    )
    site.route(
        "GET",
        "/paper.pdf",
        lambda r: Response(200, (CORPUS / "hydrogen.pdf").read_bytes(), {"Content-Type": "application/pdf"}),
    )
    site.route("GET", "/image.png", lambda r: Response(200, b"\x89PNG....", {"Content-Type": "image/png"}))
    site.route(
        "GET",
        "/huge",
        lambda r: Response(200, "<p>" + "x" * 3_000_000 + "</p>", {"Content-Type": "text/html"}),
    )
    site.route(
        "GET", "/moved", lambda r: Response(302, "", {"Location": "/article", "Content-Type": "text/plain"})
    )
    site.route("GET", "/gone", lambda r: Response(503, "down", {"Content-Type": "text/plain"}))
    with site:
        yield site


@pytest.mark.parametrize(
    "address, public",
    [
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("::1", False),
        ("fe80::1", False),
        ("224.0.0.1", False),
        ("0.0.0.0", False),
        ("240.0.0.1", False),
        ("::ffff:127.0.0.1", False),
        ("100.64.0.1", False),
        ("fd00::1", False),
        # IPv6 forms that carry an IPv4 address: judged by it, or refused with their prefix.
        ("::ffff:10.0.0.1", False),
        ("::ffff:8.8.8.8", True),
        ("::127.0.0.1", False),  # IPv4-compatible (deprecated)
        ("::8.8.8.8", False),
        ("64:ff9b::7f00:1", False),  # NAT64 of 127.0.0.1
        ("64:ff9b::a00:1", False),  # NAT64 of 10.0.0.1
        ("2002:7f00:1::", False),  # 6to4 of 127.0.0.1
        ("2002:a9fe:a9fe::1", False),  # 6to4 of 169.254.169.254
        ("2002:c0a8:101::1", False),  # 6to4 of 192.168.1.1
        ("2002:808:808::1", False),  # 6to4 of a public address: the whole prefix is refused
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", False),  # Teredo
        ("2001:0:a00:1::f5ff:fffe", False),  # Teredo naming 10.0.0.1 as its server
    ],
)
def test_only_public_unicast_addresses_pass(address, public):
    assert is_public_address(address) is public


async def test_loopback_is_refused_by_default(website):
    async with guarded_client() as client:
        for url in (website.url + "/article", website.url.replace("127.0.0.1", "localhost") + "/article"):
            with pytest.raises(httpx.ConnectError, match="non-public"):
                await client.get(url)


class Nat(AutoBackend):
    """The network between us and "the internet": the fake public address PUBLIC:80 is
    forwarded to the local test site, everything else is dialled as asked."""

    def __init__(self, site: FakeHTTPServer):
        super().__init__()
        self.site_port = int(site.url.rsplit(":", 1)[1])

    async def connect_tcp(self, host, port, **kwargs):
        if (host, port) == (PUBLIC, 80):
            host, port = "127.0.0.1", self.site_port
        return await super().connect_tcp(host, port, **kwargs)


PUBLIC = "93.184.216.34"
DNS = {"site.example": [PUBLIC], "intranet.example": ["10.0.0.7"], "loopback.example": ["127.0.0.1"]}


async def fake_dns(host: str, port: int) -> list[str]:
    return DNS.get(host, [host])


@pytest.fixture
def public_site(website) -> Iterator[GuardedBackend]:
    """A guarded backend (private addresses refused) through which `site.example` is public."""
    for target in ("intranet.example", "loopback.example", f"127.0.0.1:{website.url.rsplit(':', 1)[1]}"):
        website.route(
            "GET",
            f"/to/{target.split('.')[0]}",
            lambda r, target=target: Response(302, "", {"Location": f"http://{target}/article"}),
        )
    backend = GuardedBackend(resolver=fake_dns)
    backend._inner = Nat(website)
    yield backend


async def test_with_the_guard_on_a_redirect_to_a_private_address_is_refused(public_site):
    reader = PageReader(transport=guarded_transport(backend=public_site))
    try:
        page = await reader.fetch("http://site.example/article")  # the public hop works
        assert "fast frequency response" in page.text
        for hop in ("intranet", "loopback", "127"):
            with pytest.raises(httpx.ConnectError, match="non-public"):
                await reader.fetch(f"http://site.example/to/{hop}")
    finally:
        await reader.aclose()


async def test_with_the_guard_on_only_ports_80_and_443_are_dialled(public_site):
    async with guarded_client(backend=public_site) as client:
        assert (await client.get("http://site.example/article")).status_code == 200
        for port in (8080, 25, 6379):
            with pytest.raises(httpx.ConnectError, match=f"port {port}"):
                await client.get(f"http://site.example:{port}/article")


async def test_names_resolving_to_private_addresses_are_refused_at_connect():
    async def rebinding(host, port):
        return ["93.184.216.34", "10.0.0.7"]

    async with guarded_client(backend=GuardedBackend(resolver=rebinding)) as client:
        with pytest.raises(httpx.ConnectError, match=r"10\.0\.0\.7"):
            await client.get("http://innocent.example/")


async def test_the_reader_keeps_main_text_of_html_text_and_pdf(website):
    reader = PageReader(allow_private=True)
    try:
        page = await reader.fetch(website.url + "/article")
        assert page.title == "Grid batteries and energy storage"
        assert "fast frequency response" in page.text and "All rights reserved" not in page.text
        assert "Some text here." in (await reader.fetch(website.url + "/notes.txt")).text
        pdf = await reader.fetch(website.url + "/paper.pdf")
        assert pdf.title == "Hydrogen electrolysis" and "Electrolysers split water" in pdf.text
        assert "fast frequency" in (await reader.fetch(website.url + "/moved")).text
    finally:
        await reader.aclose()


async def test_the_reader_refuses_what_it_should_not_read(website):
    reader = PageReader(allow_private=True, max_bytes=1_000_000)
    try:
        with pytest.raises(UnreadablePage, match="content type"):
            await reader.fetch(website.url + "/image.png")
        with pytest.raises(UnreadablePage, match="larger"):
            await reader.fetch(website.url + "/huge")
        with pytest.raises(UnreadablePage, match="http"):
            await reader.fetch("file:///etc/passwd")
        with pytest.raises(httpx.HTTPStatusError):
            await reader.fetch(website.url + "/gone")
    finally:
        await reader.aclose()
    strict = PageReader()
    try:
        with pytest.raises(httpx.ConnectError):
            await strict.fetch(website.url + "/article")
    finally:
        await strict.aclose()
