"""The one pagination scheme of every list endpoint: `?limit=` (1-200, default 50) and `?offset=`.

async def route(page: PageDep) -> ...:  repo.rows(conn, limit=page.limit, offset=page.offset)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_OFFSET = 2**31 - 1  # past PostgreSQL's int range an OFFSET is a client error, not a 500


@dataclass(frozen=True)
class Page:
    limit: int = DEFAULT_LIMIT
    offset: int = 0


def page_of(
    limit: Annotated[int | None, Query(ge=1, le=MAX_LIMIT, description="Rows per page (default 50).")] = None,
    offset: Annotated[int | None, Query(ge=0, le=MAX_OFFSET, description="Rows to skip.")] = None,
) -> Page:
    return Page(limit=limit or DEFAULT_LIMIT, offset=offset or 0)


PageDep = Annotated[Page, Depends(page_of)]
