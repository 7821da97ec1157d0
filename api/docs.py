"""`/docs` (Swagger UI) and `/redoc` served from this app, never from a CDN.

The pages and the Swagger UI / ReDoc files are copied into `web/dist/docs` by the dashboard
build (`web/scripts/copy-docs.mjs`); the pages load only same-origin scripts, with no inline
script, so they render offline and under a `script-src 'self'` policy.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from starlette.exceptions import HTTPException
from starlette.responses import FileResponse

from api.spa import REVALIDATE, WEB_DIST

DOCS_DIST = WEB_DIST / "docs"
router = APIRouter(include_in_schema=False)


def _docs_file(name: str) -> FileResponse:
    path = (DOCS_DIST / name).resolve()
    if not path.is_relative_to(DOCS_DIST.resolve()) or not path.is_file():
        if not DOCS_DIST.is_dir():
            raise HTTPException(404, "The API docs are not built: run scripts/build_web.sh")
        raise HTTPException(404)
    return FileResponse(path, headers={"Cache-Control": REVALIDATE})


@router.get("/docs")
async def swagger_ui() -> FileResponse:
    return _docs_file("swagger.html")


@router.get("/redoc")
async def redoc() -> FileResponse:
    return _docs_file("redoc.html")


@router.get("/docs/{name}")
async def docs_asset(name: str) -> FileResponse:
    return _docs_file(Path(name).name)
