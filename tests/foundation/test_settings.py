"""Settings: names from the README configuration table, secrets kept out of reprs, and what the graph receives."""

from __future__ import annotations

import pytest

from core.settings import Settings, SettingsError, load_settings


def test_secrets_never_appear_in_the_settings_repr():
    settings = Settings(
        JWT_SECRET="s3cret-jwt",
        OPENAI_API_KEY="sk-abc",
        STRIPE_SECRET_KEY="sk_live_x",
        SMTP_PASSWORD="mailpw",
        TAVILY_API_KEY="tvly-1",
        STRIPE_WEBHOOK_SECRET="whsec_1",
    )
    text = repr(settings)
    for secret in ("s3cret-jwt", "sk-abc", "sk_live_x", "mailpw", "tvly-1", "whsec_1"):
        assert secret not in text


def test_production_refuses_the_development_secret(monkeypatch):
    monkeypatch.setenv("INFRENCE_ENV", "production")
    monkeypatch.delenv("JWT_SECRET", raising=False)
    with pytest.raises(SettingsError, match="JWT_SECRET"):
        load_settings()
    monkeypatch.setenv("JWT_SECRET", "a-real-secret-" + "x" * 40)
    monkeypatch.setenv("INFRENCE_SECRET_KEY", "k" * 43 + "=")
    monkeypatch.setenv("INFRENCE_MAIL", "log")
    assert load_settings().env == "production"


def test_per_stage_models_reach_the_graph_providers():
    from graph.settings import DEFAULT_MODEL, GraphSettings, ModelStage

    models = GraphSettings.from_any(Settings(INFRENCE_MODEL_WRITER="llama3:70b")).models
    assert models[ModelStage.writer] == "llama3:70b"
    assert models[ModelStage.planner] == DEFAULT_MODEL
