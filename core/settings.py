"""One settings object for every process, read from the environment and `.env`."""

from __future__ import annotations

import base64
import json
from enum import Enum
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from graph.settings import GraphSettings

DEV_JWT_SECRET = "dev-insecure-jwt-secret-change-me"
MIN_JWT_SECRET_BYTES = 32  # HS256's key should be at least as long as its hash (RFC 7518 §3.2)


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


def _is_fernet_key(key: str) -> bool:
    try:
        return len(base64.urlsafe_b64decode(key.encode())) == 32
    except ValueError:
        return False


class SettingsError(RuntimeError):
    """A configuration that must not start (printed as one line by the CLI)."""


class Settings(GraphSettings, BaseSettings):
    """The server's settings; the research providers' fields (keys, models per stage, folders)
    come from `GraphSettings`, defined once in the graph."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    env: Literal["dev", "production"] = Field("dev", validation_alias=_env("INFRENCE_ENV"))
    public_url: str = Field("http://127.0.0.1:8000", validation_alias=_env("INFRENCE_PUBLIC_URL"))

    database_url: str | None = Field(None, validation_alias=_env("DATABASE_URL"))
    redis_url: str | None = Field(None, validation_alias=_env("REDIS_URL"))
    db_pool_min: int = Field(2, validation_alias=_env("INFRENCE_DB_POOL_MIN"))
    db_pool_max: int = Field(20, validation_alias=_env("INFRENCE_DB_POOL_MAX"))
    db_prepare_threshold: int = Field(5, ge=0, validation_alias=_env("INFRENCE_DB_PREPARE_THRESHOLD"))
    collection_max_file_bytes: int = Field(
        20 * 1024 * 1024, ge=1, validation_alias=_env("INFRENCE_COLLECTION_MAX_FILE_BYTES")
    )
    collection_max_documents: int = Field(
        500, ge=1, validation_alias=_env("INFRENCE_COLLECTION_MAX_DOCUMENTS")
    )
    collection_max_bytes: int = Field(
        500 * 1024 * 1024, ge=1, validation_alias=_env("INFRENCE_COLLECTION_MAX_BYTES")
    )
    collection_max_pdf_pages: int = Field(
        1000, ge=1, validation_alias=_env("INFRENCE_COLLECTION_MAX_PDF_PAGES")
    )
    # An embeddings model on the OpenAI-compatible server (OPENAI_BASE_URL, OPENAI_API_KEY): when
    # set, collection chunks are embedded at ingestion and search adds pgvector nearest neighbours
    # to full text (reciprocal rank fusion). Unset: full text only.
    embeddings_model: str | None = Field(None, validation_alias=_env("INFRENCE_EMBEDDINGS_MODEL"))

    jwt_secret: str = Field(DEV_JWT_SECRET, repr=False, validation_alias=_env("JWT_SECRET"))
    # Opaque name of the current JWT key (the `kid` header); change it when JWT_SECRET changes.
    jwt_key_id: str = Field("k1", min_length=1, max_length=64, validation_alias=_env("JWT_KEY_ID"))
    # Fernet key sealing secrets kept in the database (webhook signing secrets): 32 url-safe
    # base64 bytes, `infrence secrets new-key` makes one. Required in production.
    secret_key: str | None = Field(None, repr=False, validation_alias=_env("INFRENCE_SECRET_KEY"))
    # Comma-separated keys that sealed values before a rotation: still opened, never used to seal.
    secret_key_previous: str | None = Field(
        None, repr=False, validation_alias=_env("INFRENCE_SECRET_KEY_PREVIOUS")
    )
    password_hash_memory_kib: int = Field(
        65536, ge=1024, validation_alias=_env("INFRENCE_PASSWORD_HASH_MEMORY_KIB")
    )

    smtp_host: str | None = Field(None, validation_alias=_env("SMTP_HOST"))
    smtp_port: int = Field(587, validation_alias=_env("SMTP_PORT"))
    smtp_username: str | None = Field(None, validation_alias=_env("SMTP_USERNAME"))
    smtp_password: str | None = Field(None, repr=False, validation_alias=_env("SMTP_PASSWORD"))
    smtp_tls: bool = Field(True, validation_alias=_env("SMTP_TLS"))
    mail_from: str = Field("Infrence <no-reply@infrence.local>", validation_alias=_env("MAIL_FROM"))
    # Without SMTP_HOST: `console` prints each mail (links included) where the server runs,
    # `log` only keeps it in the outbox table. Unset: console in dev, refused in production.
    mail: Literal["console", "log"] | None = Field(None, validation_alias=_env("INFRENCE_MAIL"))
    # `text` for people at a terminal, `json` for log collectors; unset: text on a TTY.
    log_format: Literal["text", "json"] | None = Field(None, validation_alias=_env("INFRENCE_LOG_FORMAT"))

    stripe_secret_key: str | None = Field(None, repr=False, validation_alias=_env("STRIPE_SECRET_KEY"))
    stripe_webhook_secret: str | None = Field(
        None, repr=False, validation_alias=_env("STRIPE_WEBHOOK_SECRET")
    )
    stripe_api_base: str | None = Field(None, validation_alias=_env("STRIPE_API_BASE"))

    research_creates_per_minute: int = Field(
        60, ge=1, validation_alias=_env("INFRENCE_RESEARCH_CREATES_PER_MINUTE")
    )
    worker_lease_secs: int = Field(30, ge=2, validation_alias=_env("INFRENCE_WORKER_LEASE_SECS"))
    job_max_attempts: int = Field(5, ge=1, le=100, validation_alias=_env("INFRENCE_JOB_MAX_ATTEMPTS"))
    webhook_retry_first_secs: float = Field(
        5.0, gt=0, validation_alias=_env("INFRENCE_WEBHOOK_RETRY_FIRST_SECS")
    )
    outbox_max_attempts: int = Field(12, ge=1, validation_alias=_env("INFRENCE_OUTBOX_MAX_ATTEMPTS"))
    outbox_retry_first_secs: float = Field(
        2.0, gt=0, validation_alias=_env("INFRENCE_OUTBOX_RETRY_FIRST_SECS")
    )
    outbox_lease_secs: int = Field(300, ge=2, validation_alias=_env("INFRENCE_OUTBOX_LEASE_SECS"))
    sync_max_secs: int = Field(60, validation_alias=_env("INFRENCE_SYNC_MAX_SECS"))
    signup_grant_credits: int = Field(100, ge=0, validation_alias=_env("INFRENCE_SIGNUP_GRANT_CREDITS"))
    signups_per_ip_per_hour: int = Field(10, ge=1, validation_alias=_env("INFRENCE_SIGNUPS_PER_IP_PER_HOUR"))
    checkpoint_retention_days: int = Field(
        7, ge=0, validation_alias=_env("INFRENCE_CHECKPOINT_RETENTION_DAYS")
    )
    plan_approval_ttl_secs: int = Field(
        86_400, ge=1, validation_alias=_env("INFRENCE_PLAN_APPROVAL_TTL_SECS")
    )
    max_body_bytes: int = Field(1024 * 1024, validation_alias=_env("INFRENCE_MAX_BODY_BYTES"))
    max_streams_per_user: int = Field(20, ge=1, validation_alias=_env("INFRENCE_MAX_STREAMS_PER_USER"))
    # host:port of a second listener serving only /metrics without credentials (for Prometheus
    # on a private interface); the API's own /metrics answers admins only.
    metrics_addr: str | None = Field(
        None,
        pattern=r"^(\[[0-9a-fA-F:]+\]|[^\s:\[\]]+):\d{1,5}$",
        validation_alias=_env("INFRENCE_METRICS_ADDR"),
    )

    @model_validator(mode="after")
    def _refuse_default_secrets_in_production(self) -> Settings:
        if self.env == "production" and (not self.jwt_secret or self.jwt_secret == DEV_JWT_SECRET):
            raise SettingsError("INFRENCE_ENV=production needs JWT_SECRET set to a strong secret")
        if self.env == "production" and len(self.jwt_secret.encode()) < MIN_JWT_SECRET_BYTES:
            raise SettingsError(
                f"INFRENCE_ENV=production needs a JWT_SECRET of at least {MIN_JWT_SECRET_BYTES} bytes"
            )
        if self.env == "production" and self.allow_private_urls:
            raise SettingsError("INFRENCE_ALLOW_PRIVATE_URLS is for dev and tests, not production")
        if self.env == "production" and not self.smtp_host and self.mail is None:
            raise SettingsError(
                "INFRENCE_ENV=production needs SMTP_HOST (or INFRENCE_MAIL=log to keep mail in the outbox only)"
            )
        if self.env == "production" and not self.secret_key:
            raise SettingsError(
                "INFRENCE_ENV=production needs INFRENCE_SECRET_KEY (`infrence secrets new-key`)"
            )
        for name, key in [("INFRENCE_SECRET_KEY", self.secret_key)] + [
            ("INFRENCE_SECRET_KEY_PREVIOUS", k) for k in self.previous_secret_keys
        ]:
            if key and not _is_fernet_key(key):
                raise SettingsError(f"{name} must be a Fernet key (32 url-safe base64-encoded bytes)")
        return self

    @property
    def previous_secret_keys(self) -> tuple[str, ...]:
        return tuple(k.strip() for k in (self.secret_key_previous or "").split(",") if k.strip())

    @property
    def mail_delivery(self) -> Literal["smtp", "console", "log"]:
        """Where mail goes: SMTP when configured, else the console (dev default) or the outbox only."""
        if self.smtp_host:
            return "smtp"
        return self.mail or "console"

    def as_environment(self) -> dict[str, str]:
        """These settings as the environment variables that reproduce them, so a child process
        (a supervised worker) runs with exactly the parent's configuration."""
        env = {}
        for name, field in type(self).model_fields.items():
            value = getattr(self, name)
            alias = field.validation_alias
            if value is None or not isinstance(alias, AliasChoices):
                continue
            if isinstance(value, bool):
                text = str(value).lower()
            elif isinstance(value, list | dict):
                text = json.dumps(value)
            else:
                text = str(value.value if isinstance(value, Enum) else value)
            env[str(alias.choices[0])] = text
        return env

    @cached_property
    def resolved_data_dir(self) -> Path:
        path = self.data_dir.expanduser().resolve()
        path.mkdir(parents=True, exist_ok=True)
        return path


def load_settings(**overrides) -> Settings:
    """Read settings; a ValidationError wrapping SettingsError is unwrapped to one clear message."""
    from pydantic import ValidationError

    try:
        return Settings(**overrides)
    except ValidationError as exc:
        for err in exc.errors():
            cause = err.get("ctx", {}).get("error")
            if isinstance(cause, SettingsError):
                raise cause from None
        raise SettingsError(str(exc).replace("\n", " ")) from None
