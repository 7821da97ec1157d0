"""Webhook signing secrets are sealed at rest under INFRENCE_SECRET_KEY: the column never holds
the clear secret, values from before encryption are sealed at start, and a key rotation keeps
old values readable until `infrence secrets reseal` moves them to the new key."""

from __future__ import annotations

import pytest

from auth.webhook_secrets import WebhookSecrets
from core.secret_box import UnreadableSecret, new_key
from core.settings import SettingsError, load_settings


def stored_secret(accounts, email: str) -> str:
    return accounts.sql("SELECT webhook_secret FROM users WHERE email = %s", (email,))[0][0]


async def shown_secret(client, signed_in) -> str:
    response = await client.get("/api/settings/webhook-secret", headers=signed_in.headers)
    assert response.status_code == 200, response.text
    return response.json()["webhook_secret"]


async def test_the_stored_column_never_holds_the_clear_secret(client, accounts, signed_in):
    secret = await shown_secret(client, signed_in)
    stored = stored_secret(accounts, signed_in.email)
    assert secret.startswith("whsec_") and stored.startswith("fernet:")
    assert secret not in stored and secret.removeprefix("whsec_") not in stored

    rotated = (await client.post("/api/settings/webhook-secret/rotate", headers=signed_in.headers)).json()
    stored = stored_secret(accounts, signed_in.email)
    assert rotated["webhook_secret"].removeprefix("whsec_") not in stored
    assert await shown_secret(client, signed_in) == rotated["webhook_secret"]


async def test_a_clear_secret_from_before_encryption_is_sealed_when_the_app_starts(
    app, client, accounts, signed_in
):
    accounts.sql("UPDATE users SET webhook_secret = 'whsec_legacy0123' WHERE email = %s", (signed_in.email,))
    assert await shown_secret(client, signed_in) == "whsec_legacy0123"  # still readable meanwhile

    from api.app import create_app

    restarted = create_app(app.state.settings)
    async with restarted.router.lifespan_context(restarted):
        pass
    stored = stored_secret(accounts, signed_in.email)
    assert stored.startswith("fernet:") and "legacy0123" not in stored
    assert await shown_secret(client, signed_in) == "whsec_legacy0123"


async def test_after_a_key_rotation_old_values_open_until_reseal_moves_them(app, client, accounts, signed_in):
    old_key, new = new_key(), new_key()
    base = app.state.settings
    app.state.settings = base.model_copy(update={"secret_key": old_key})
    secret = await shown_secret(client, signed_in)
    sealed_under_old = stored_secret(accounts, signed_in.email)

    app.state.settings = base.model_copy(update={"secret_key": new})  # old key dropped too early
    with pytest.raises(UnreadableSecret):
        await WebhookSecrets(app.state.db, app.state.settings).for_user(signed_in.user["id"])

    rotated = base.model_copy(update={"secret_key": new, "secret_key_previous": f"{new_key()}, {old_key}"})
    app.state.settings = rotated
    assert await shown_secret(client, signed_in) == secret
    report = await WebhookSecrets(app.state.db, rotated).reseal()
    assert report.resealed >= 1
    assert stored_secret(accounts, signed_in.email) != sealed_under_old
    assert (await WebhookSecrets(app.state.db, rotated).reseal()).resealed == 0

    app.state.settings = base.model_copy(update={"secret_key": new})  # old key gone for good
    assert await shown_secret(client, signed_in) == secret


def test_production_refuses_to_start_without_a_valid_secret_key():
    strong = {"env": "production", "jwt_secret": "j" * 40, "mail": "log"}
    with pytest.raises(SettingsError, match="INFRENCE_SECRET_KEY"):
        load_settings(**strong, secret_key=None)
    with pytest.raises(SettingsError, match="INFRENCE_SECRET_KEY must be a Fernet key"):
        load_settings(**strong, secret_key="not a key")
    with pytest.raises(SettingsError, match="INFRENCE_SECRET_KEY_PREVIOUS"):
        load_settings(**strong, secret_key=new_key(), secret_key_previous="short")
    assert load_settings(**strong, secret_key=new_key()).secret_key
