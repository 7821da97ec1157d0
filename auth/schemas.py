"""Request and response bodies of `/api/auth/*`, `/api/settings/*` and `/api/keys*`."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from auth.models import ApiKey, User

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")


def _storable(value: str) -> str:
    """PostgreSQL text takes neither NUL nor lone surrogates: refuse them as bad input."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode") from None
    return value


def _email(value: str) -> str:
    value = value.strip().lower()
    if len(value) > 254 or not _EMAIL.match(value):
        raise ValueError("must be a valid email address")
    return value


def _trimmed(value: str) -> str:
    return value.strip()


Text = Annotated[str, AfterValidator(_storable)]
Email = Annotated[str, Field(max_length=320), AfterValidator(_storable), AfterValidator(_email)]
# Login and forgot-password only normalise: a malformed address is simply not an account.
LooseEmail = Annotated[
    str, Field(max_length=320), AfterValidator(_storable), AfterValidator(lambda v: v.strip().lower())
]
Name = Annotated[str, Field(max_length=100), AfterValidator(_storable), AfterValidator(_trimmed)]
Secret = Annotated[str, Field(max_length=1024), AfterValidator(_storable)]


class SignupBody(BaseModel):
    email: Email
    password: Secret
    first_name: Name | None = None
    last_name: Name | None = None


class LoginBody(BaseModel):
    email: LooseEmail
    password: Secret


class RefreshBody(BaseModel):
    # Published as required (API clients send it); the dashboard sends `{}` and the
    # `infrence_refresh` cookie carries the token instead.
    model_config = ConfigDict(json_schema_extra={"required": ["refresh_token"]})

    refresh_token: Secret = Field(
        "", description="Empty or omitted: the `infrence_refresh` cookie set at login is used."
    )


class ForgotBody(BaseModel):
    email: LooseEmail


class ResetBody(BaseModel):
    token: Secret
    password: Secret


class ProfileBody(BaseModel):
    first_name: Name
    last_name: Name


class PasswordBody(BaseModel):
    current_password: Secret
    new_password: Secret


class MarketingBody(BaseModel):
    enabled: bool


class CreateKeyBody(BaseModel):
    name: Name | None = Field(None, description='Defaults to "Default".')


class UserDto(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    email: str
    first_name: str
    last_name: str
    email_verified: bool
    marketing_emails_enabled: bool
    is_admin: bool
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> UserDto:
        return cls.model_validate(user)


class AuthResponse(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="Seconds until the access token expires.")
    user: UserDto


class Done(BaseModel):
    ok: bool = True


class MailDelivery(BaseModel):
    delivery: Literal["smtp", "console", "log"] = Field(
        description="Where this server's mail goes: `smtp`, the server `console` (dev), or `log` "
        "(kept in the outbox table only; `infrence mail list`)."
    )


class WebhookSecretDto(BaseModel):
    webhook_secret: str = Field(description="`whsec_...`: signs research webhooks (HMAC-SHA256).")


class ApiKeyDto(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None = None

    @classmethod
    def of(cls, key: ApiKey) -> ApiKeyDto:
        return cls.model_validate(key)


class CreatedKey(ApiKeyDto):
    plaintext: str = Field(
        description="One-time plaintext shown immediately after create/reset; never returned again."
    )
