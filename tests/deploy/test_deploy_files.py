"""The Dockerfile and compose file in deploy/ run commands the CLI has, pass settings the app
reads, and ship every package the app imports (docker itself is not on these machines)."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib

import pytest
import yaml
from typer.main import get_command

from api.cli import app as cli_app
from core.settings import Settings
from tests.conftest import REPO

DEPLOY = REPO / "deploy"
READ_BY_OTHERS = {"FORWARDED_ALLOW_IPS"}  # uvicorn's own setting


def _setting_names() -> set[str]:
    names: set[str] = set()
    for field in Settings.model_fields.values():
        alias = field.validation_alias
        choices = getattr(alias, "choices", None) or ([alias] if alias else [])
        names.update(c if isinstance(c, str) else getattr(c, "path", [""])[0] for c in choices)
    return names


def _cli_commands() -> set[str]:
    return set(get_command(cli_app).commands)


def _infrence_services(compose: dict) -> dict[str, dict]:
    anchor = compose["x-infrence"]
    return {
        name: {**anchor, **service}
        for name, service in compose["services"].items()
        if service.get("image", anchor["image"]) == anchor["image"]
        and "command" in service
        and service["command"][0].endswith("/infrence")
    }


def test_compose_runs_real_commands_with_settings_the_app_reads():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = _infrence_services(compose)
    roles = {service["command"][1] for service in services.values()}
    assert roles == {"serve", "worker"}
    assert roles <= _cli_commands()
    assert {"postgres", "redis"} <= set(compose["services"])
    unknown = set(compose["x-infrence"]["environment"]) - _setting_names() - READ_BY_OTHERS
    assert not unknown, f"compose passes settings the app does not read: {sorted(unknown)}"
    example = {
        line.split("=", 1)[0]
        for line in (DEPLOY / "env.example").read_text().splitlines()
        if line and not line.startswith("#")
    }
    assert example - _setting_names() == set()


def test_the_image_copies_every_package_and_starts_the_api():
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    packages = project["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    copied = set(re.findall(r"^COPY (\S+)/ \1/$", dockerfile, re.MULTILINE))
    assert set(packages) <= copied, f"not copied into the image: {set(packages) - copied}"
    assert "COPY migrations/ migrations/" in dockerfile
    assert "COPY clients/ clients/" in dockerfile  # a workspace member the app depends on
    command = re.search(r"^CMD \[(.*)\]$", dockerfile, re.MULTILINE).group(1)
    assert '"serve"' in command and "serve" in _cli_commands()


@pytest.mark.skipif(shutil.which("docker") is None, reason="no docker client")
def test_docker_compose_accepts_the_file():
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip("docker client without the compose plugin")
    env = {"JWT_SECRET": "x" * 40, "INFRENCE_SECRET_KEY": "k" * 43 + "=", "PATH": "/usr/bin:/bin"}
    checked = subprocess.run(
        ["docker", "compose", "-f", str(DEPLOY / "compose.yaml"), "config", "--quiet"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert checked.returncode == 0, checked.stderr
