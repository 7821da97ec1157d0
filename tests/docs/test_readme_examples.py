"""Every shell and Python example in the README runs against a live server, extracted from the
README itself so the two cannot drift; a broken copy of the README must fail the same check."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.accounts import Account
from tests.conftest import REPO, ServerProcess, module_server, open_account_on
from tests.docs.readme import Example, examples

README = REPO / "README.md"
README_URL = "http://127.0.0.1:8000"
pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def readme_server(database_url, redis_url, tmp_path_factory) -> Iterator[ServerProcess]:
    yield from module_server(database_url, redis_url, tmp_path_factory, workers=2)


@pytest.fixture
async def readme_account(readme_server, database_url) -> Account:
    return await open_account_on(readme_server, database_url, credits=2000)


def run_example(example: Example, server: ServerProcess, api_key: str) -> str | None:
    """None when the example succeeds, else what went wrong (exit code and output)."""
    code = example.code.replace(README_URL, server.base_url)
    env = {**os.environ, "INFRENCE_API_KEY": api_key, "INFRENCE_URL": server.base_url}
    command = (
        ["bash", "-euo", "pipefail", "-c", code] if example.language == "sh" else [sys.executable, "-c", code]
    )
    run = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=240)
    if run.returncode == 0:
        return None
    return f"README line {example.line} ({example.language}) exited {run.returncode}:\n{run.stdout[-1500:]}\n{run.stderr[-1500:]}"


def broken_copy(tmp_path: Path) -> Path:
    """The README with the quick start's Content-Type header gone (the bug issue 20 found)."""
    text = README.read_text()
    broken = text.replace('  -H "Content-Type: application/json" \\\n', "", 1)
    assert broken != text
    path = tmp_path / "README.md"
    path.write_text(broken)
    return path


@pytest.mark.parametrize("which", ["README.md", "broken copy"])
def test_readme_examples_run_against_a_live_server(which, readme_server, readme_account, tmp_path):
    readme = README if which == "README.md" else broken_copy(tmp_path)
    runnable = [e for e in examples(readme) if e.skip_reason is None]
    assert len(runnable) >= 5 and {e.language for e in runnable} == {"sh", "python"}

    failures = [f for e in runnable if (f := run_example(e, readme_server, readme_account.api_key))]

    if which == "README.md":
        assert failures == [], "\n\n".join(failures)
    else:
        assert len(failures) == 1 and "400" in failures[0] and "invalid_request" in failures[0], failures


def test_every_skipped_example_says_why():
    skipped = [e for e in examples(README) if e.skip_reason is not None]
    assert skipped and all(len(e.skip_reason) > 10 for e in skipped)
    assert any("uv run infrence serve" in e.code for e in skipped)
