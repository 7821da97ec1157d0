"""`infrence admin create EMAIL --password-stdin` creates or promotes a verified admin."""

from __future__ import annotations

import subprocess
import sys

from tests.auth.conftest import PASSWORD
from tests.conftest import REPO, server_env


def _admin_create(settings, email: str, password: str | None) -> subprocess.CompletedProcess:
    args = [sys.executable, "-m", "api.cli", "admin", "create", email]
    if password is not None:
        args.append("--password-stdin")
    env = server_env(settings, INFRENCE_PASSWORD_HASH_MEMORY_KIB="1024")
    return subprocess.run(
        args, input=(password or "") + "\n", capture_output=True, text=True, cwd=REPO, env=env, timeout=120
    )


async def test_admin_create_makes_a_verified_admin_who_can_log_in(settings, accounts):
    done = _admin_create(settings, "Root@Example.com", PASSWORD)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("admin root@example.com created")
    assert len(done.stdout.strip().splitlines()) == 1
    signed_in = await accounts.login("root@example.com")
    assert signed_in.user["is_admin"] is True and signed_in.user["email_verified"] is True
    assert accounts.sql("SELECT balance FROM credit_accounts") == [(0,)]


async def test_admin_create_promotes_an_existing_user_and_refuses_bad_input(settings, accounts, signed_in):
    promoted = _admin_create(settings, signed_in.email, None)
    assert promoted.returncode == 0 and "promoted" in promoted.stdout
    assert (await accounts.me(signed_in.access_token)).json()["is_admin"] is True

    refused = _admin_create(settings, "nobody@example.com", None)  # a new admin needs a password
    assert refused.returncode == 1
    assert refused.stderr.startswith("infrence: ") and "Traceback" not in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
