"""The dashboard SPA (web/dist) served at `/`: its files, and index.html for every page path.

Dashboard pages are client-side routes, so a browser asking for `/billing` must get
index.html; API paths never fall back, so their 404s and 405s stay JSON.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Match, Route
from starlette.types import Scope

log = logging.getLogger(__name__)

WEB_DIST = Path(__file__).resolve().parent.parent / "web" / "dist"
API_PREFIXES = ("/api", "/v1", "/healthz", "/livez", "/metrics", "/openapi.json", "/docs", "/redoc")
# Vite fingerprints everything under assets/ (content hash in the name): cache it for good.
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
# The dashboard loads only its own files: no inline script, no third-party origin, no framing
# (clickjacking), no plugins. The favicon is a data: URI; the brief's HTML is sanitised too,
# and this policy is the second wall if sanitising ever misses something.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
PAGE_HEADERS = {"Content-Security-Policy": CONTENT_SECURITY_POLICY, "Referrer-Policy": "same-origin"}


def is_api_path(path: str) -> bool:
    return any(path == prefix or path.startswith(prefix + "/") for prefix in API_PREFIXES)


class SpaRoute(Route):
    """GET/HEAD on any non-API path; registered last, so every real route wins."""

    def __init__(self, dist_dir: Path):
        self.dist_dir = dist_dir.resolve()
        super().__init__("/{path:path}", self.serve, methods=["GET", "HEAD"], include_in_schema=False)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http" and is_api_path(scope["path"]):
            return Match.NONE, {}
        return super().matches(scope)

    async def serve(self, request: Request) -> Response:
        asset = self._file(request.path_params["path"])
        if asset is not None:
            cache = IMMUTABLE if asset.parent.name == "assets" else REVALIDATE
            return FileResponse(asset, headers={"Cache-Control": cache, **PAGE_HEADERS})
        index = self.dist_dir / "index.html"
        wants_page = "text/html" in request.headers.get("accept", "") or not request.path_params["path"]
        if not wants_page:  # the root is always the dashboard (`curl /` included)
            raise HTTPException(404)  # the same JSON 404 as any unknown route
        if not index.is_file():
            raise HTTPException(404, "The dashboard is not built: run scripts/build_web.sh")
        return FileResponse(index, headers={"Cache-Control": REVALIDATE, **PAGE_HEADERS})

    def _file(self, relative: str) -> Path | None:
        """A file inside dist (never outside it: no `..` escapes), or None."""
        if not relative:
            return None
        candidate = (self.dist_dir / relative).resolve()
        if not candidate.is_relative_to(self.dist_dir) or not candidate.is_file():
            return None
        return candidate


def mount_spa(app, dist_dir: Path = WEB_DIST) -> None:
    """Serve `dist_dir` as the dashboard, replacing any SPA already mounted on `app`."""
    app.router.routes[:] = [r for r in app.router.routes if not isinstance(r, SpaRoute)]
    app.router.routes.append(SpaRoute(dist_dir))


def build_if_missing(dist_dir: Path = WEB_DIST) -> None:
    """Build the dashboard once when it is missing; without npm, the API still serves (with a warning)."""
    if (dist_dir / "index.html").is_file():
        return
    script = Path(__file__).resolve().parent.parent / "scripts" / "build_web.sh"
    if shutil.which("npm") is None or not script.is_file():
        log.warning("dashboard not built and npm is unavailable: serving the API only")
        return
    log.info("building the dashboard into %s (first run only)", dist_dir)
    if subprocess.run(["bash", str(script)], check=False).returncode != 0:
        log.warning("dashboard build failed: serving the API only (run scripts/build_web.sh to see why)")
