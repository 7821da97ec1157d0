"""The client's typed models are generated from the app's OpenAPI and committed: regenerating
must give the committed file (after changing a route, run clients/python/generate_models.sh)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.conftest import REPO

CLIENT = REPO / "clients" / "python"


@pytest.mark.skipif(shutil.which("uv") is None, reason="the generator runs through uv")
def test_committed_models_match_the_openapi(tmp_path):
    fresh = tmp_path / "models.py"
    run = subprocess.run(
        ["bash", str(CLIENT / "generate_models.sh"), str(fresh)], capture_output=True, text=True, timeout=240
    )
    assert run.returncode == 0, run.stderr
    committed = (CLIENT / "src" / "infrence_client" / "models.py").read_text()
    assert fresh.read_text() == committed, (
        "clients/python models drifted from the OpenAPI: run clients/python/generate_models.sh and commit"
    )
