"""Process-level behaviour: migrations under concurrency, embedded storage sharing and shutdown,
clear failures at start, and a real `infrence serve` over TCP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import psutil
import psycopg
import pytest
from psycopg import sql

from tests.conftest import REPO, ServerProcess, free_port
from tests.waiting import until_sync

CLI = [sys.executable, "-m", "api.cli"]


def _fresh_database(database_url: str, name: str) -> str:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    info = psycopg.conninfo.conninfo_to_dict(database_url)
    info["dbname"] = name
    return psycopg.conninfo.make_conninfo(**info)


def test_two_processes_migrating_together_apply_each_file_once(database_url, tmp_path):
    url = _fresh_database(database_url, "infrence_migrate_race")
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    # Not idempotent on purpose: a second application would fail or insert twice.
    (migrations / "0001_counter.sql").write_text("CREATE TABLE applied (n int);")
    (migrations / "0002_slow_insert.sql").write_text("SELECT pg_sleep(0.5); INSERT INTO applied VALUES (2);")
    script = textwrap.dedent(f"""
        from pathlib import Path
        from core.migrate import apply_migrations
        print(",".join(apply_migrations({url!r}, Path({str(migrations)!r}))))
    """)
    procs = [
        subprocess.Popen([sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert sorted(outputs) == ["", "0001_counter.sql,0002_slow_insert.sql"]
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM applied").fetchone()[0] == 1
        assert conn.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] == 2


def test_the_real_schema_migrates_concurrently_once(database_url):
    url = _fresh_database(database_url, "infrence_migrate_real")
    script = f"from core.migrate import apply_migrations; print(len(apply_migrations({url!r})))"
    procs = [
        subprocess.Popen([sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    counts = sorted(int(p.communicate(timeout=60)[0]) for p in procs)
    from core.migrate import migration_files

    assert counts == [0, len(migration_files())]


def _clean_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "INFRENCE_ENV", "JWT_SECRET")
    }
    env["INFRENCE_DATA_DIR"] = str(data_dir)
    env.update(extra)
    return env


def test_production_without_a_jwt_secret_refuses_to_start_with_one_line(tmp_path):
    result = subprocess.run(
        [*CLI, "serve"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env=_clean_env(tmp_path, INFRENCE_ENV="production"),
    )
    assert result.returncode != 0
    assert (
        result.stderr.strip() == "infrence: INFRENCE_ENV=production needs JWT_SECRET set to a strong secret"
    )


def test_production_refuses_a_jwt_secret_shorter_than_32_bytes(tmp_path):
    result = subprocess.run(
        [*CLI, "serve"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env=_clean_env(tmp_path, INFRENCE_ENV="production", JWT_SECRET="x" * 31),
    )
    assert result.returncode != 0
    assert result.stderr.strip() == (
        "infrence: INFRENCE_ENV=production needs a JWT_SECRET of at least 32 bytes"
    )


def test_a_database_that_is_down_gives_one_clear_error(tmp_path):
    port = free_port()  # nothing listens there
    result = subprocess.run(
        [*CLI, "migrate"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env=_clean_env(
            tmp_path, DATABASE_URL=f"postgresql://x@127.0.0.1:{port}/x", REDIS_URL="redis://127.0.0.1:1"
        ),
    )
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("infrence: cannot connect to PostgreSQL")
    assert "Traceback" not in result.stderr


def _embedded_pids(data_dir: Path) -> dict[str, int]:
    postgres = int((data_dir / "pg" / "postmaster.pid").read_text().splitlines()[0])
    registry = (data_dir / "redis.db.settings").read_text()
    import json

    redis_pid = int(Path(json.loads(registry)["pidfile"]).read_text().strip())
    return {"postgres": postgres, "redis": redis_pid}


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_embedded_storage_is_shared_and_stopped_by_the_last_process(embedded_data_dir, stop_signal):
    data_dir = embedded_data_dir
    server = ServerProcess(_clean_env(data_dir), free_port(), workers=0)
    try:
        server.wait_healthy()
        pids = _embedded_pids(data_dir)
        assert all(_alive(pid) for pid in pids.values())

        # A second process with the same data dir joins the running servers and leaves them up.
        joined = subprocess.run(
            [*CLI, "migrate"], cwd=REPO, env=_clean_env(data_dir), capture_output=True, text=True, timeout=60
        )
        assert joined.returncode == 0, joined.stderr
        assert _embedded_pids(data_dir) == pids
        assert httpx.get(server.base_url + "/healthz", timeout=30).status_code == 200
    finally:
        server.stop(stop_signal)
    until_sync(
        lambda: not any(_alive(pid) for pid in pids.values()),
        timeout=60,
        what="the embedded postgres and redis to stop (no orphan left behind)",
    )


def test_serve_answers_over_tcp(shared_server):
    response = httpx.get(shared_server.base_url + "/healthz", timeout=30)
    assert response.status_code == 200
    spec = httpx.get(shared_server.base_url + "/openapi.json", timeout=30).json()
    assert spec["info"]["title"] == "Infrence API"
