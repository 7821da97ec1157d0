"""The reader: fetch a URL through the SSRF guard and keep its main text.

Connect/read timeouts, a 5 MiB cap read as a stream, content-type checks, and at most a few
concurrent requests per host so a wave never hammers one site. Every request, redirect hops
included, must pass the run's source policy: a redirect to an off-policy host is refused.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict

import httpx

from graph.policy import OPEN, SourcePolicy
from graph.providers.extract import html_text, pdf_text, plain_title
from graph.providers.netguard import guarded_transport, is_http_url
from graph.providers.reasoning import Page

MAX_PAGE_BYTES = 5 * 1024 * 1024
PER_HOST_CONCURRENCY = 2
TIMEOUT = httpx.Timeout(15.0, connect=5.0)
USER_AGENT = "InfrenceResearchBot/0.1 (+https://infrence.dev/bot)"
HTML_TYPES = ("text/html", "application/xhtml+xml")
TEXT_TYPES = ("text/plain", "text/markdown", "text/x-markdown", "text/x-rst")
PDF_TYPES = ("application/pdf",)


class UnreadablePage(Exception):
    """The URL answered, but not with a page we read (type, size, scheme)."""


class OffPolicy(UnreadablePage):
    """The URL, or a redirect on the way, leads outside the run's source policy. The message
    does not name the off-policy host: sources outside the policy appear nowhere."""


class PageReader:
    def __init__(
        self,
        *,
        allow_private: bool = False,
        transport: httpx.AsyncBaseTransport | None = None,
        max_bytes: int = MAX_PAGE_BYTES,
        per_host: int = PER_HOST_CONCURRENCY,
        policy: SourcePolicy = OPEN,
    ):
        """`transport` replaces the SSRF-guarded one; a caller passing one guards it (evals wrap
        the guarded transport in a cassette)."""
        self._client = httpx.AsyncClient(
            transport=transport or guarded_transport(allow_private=allow_private),
            timeout=TIMEOUT,
            trust_env=False,
            follow_redirects=True,
            max_redirects=5,
            headers={"User-Agent": USER_AGENT},
            event_hooks={"request": [self._check_policy]},
        )
        self.policy = policy
        self.max_bytes = max_bytes
        self._per_host = per_host
        self._host_slots: defaultdict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(self._per_host)
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _check_policy(self, request: httpx.Request) -> None:
        """Called by httpx before every request it sends, each redirect hop included."""
        if not self.policy.allows_url(str(request.url)):
            raise OffPolicy("the page or a redirect on the way is outside the source policy")

    async def fetch(self, url: str) -> Page:
        """The page's title and main text. Raises httpx errors (status, network) or UnreadablePage."""
        if not is_http_url(url):
            raise UnreadablePage(f"not an http(s) URL: {url}")
        async with self._host_slots[httpx.URL(url).host], self._client.stream("GET", url) as response:
            response.raise_for_status()
            kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if kind not in HTML_TYPES + TEXT_TYPES + PDF_TYPES:
                raise UnreadablePage(f"unsupported content type {kind or 'unknown'}")
            declared = int(response.headers.get("content-length") or 0)
            if declared > self.max_bytes:
                raise UnreadablePage(f"page larger than {self.max_bytes} bytes")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body.extend(chunk)
                if len(body) > self.max_bytes:
                    raise UnreadablePage(f"page larger than {self.max_bytes} bytes")
            encoding = response.encoding or "utf-8"
        if kind in PDF_TYPES:
            title, text = await asyncio.to_thread(pdf_text, bytes(body))
        elif kind in HTML_TYPES:
            title, text = await asyncio.to_thread(html_text, body.decode(encoding, errors="replace"))
        else:
            text = body.decode(encoding, errors="replace")
            title = plain_title(text)
        if not text.strip():
            raise UnreadablePage("no main text")
        return Page(url=url, title=title or httpx.URL(url).host, text=text)
