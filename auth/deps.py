"""Who is calling: typed dependency aliases for routes of every package.

CurrentUser     JWT bearer (`bearer_jwt`); 401 without a valid live session, 403 suspended
CurrentSession  the same, with the session id (for "sign out other sessions")
AdminUser       CurrentUser that must be an admin (403 `forbidden` otherwise)
PlaygroundUser  CurrentUser that also takes `?access_token=` (EventSource cannot set headers)
ApiKeyCaller    API key bearer (`bearer_api_key`) for `/v1/*`; 401 unknown/revoked, 403 suspended
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from auth.api_keys import ApiKeyService
from auth.models import Caller, User
from auth.service import AccountService, Session
from auth.webhook_secrets import WebhookSecrets
from core.errors import Forbidden, Unauthorized
from core.logging import bind
from core.ratelimit import rate_limiter_of
from core.settings import Settings

__all__ = [
    "AccountServiceDep",
    "AdminUser",
    "ApiKeyCaller",
    "ApiKeyServiceDep",
    "Caller",
    "CurrentSession",
    "CurrentUser",
    "CurrentUserOrQueryToken",
    "PlaygroundUser",
    "User",
    "WebhookSecretsDep",
]

bearer_jwt = HTTPBearer(scheme_name="bearer_jwt", bearerFormat="JWT", auto_error=False)

BearerJwt = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_jwt)]


async def get_account_service(request: Request) -> AccountService:
    state = request.app.state
    return AccountService(state.db, state.redis, state.settings, state.mailer, limits=rate_limiter_of(state))


async def get_api_key_service(request: Request) -> ApiKeyService:
    state = request.app.state
    return ApiKeyService(state.db, state.redis, limits=rate_limiter_of(state))


async def get_webhook_secrets(request: Request) -> WebhookSecrets:
    return WebhookSecrets(request.app.state.db, request.app.state.settings)


AccountServiceDep = Annotated[AccountService, Depends(get_account_service)]
WebhookSecretsDep = Annotated[WebhookSecrets, Depends(get_webhook_secrets)]
ApiKeyServiceDep = Annotated[ApiKeyService, Depends(get_api_key_service)]


class AuthenticatingBearer(HTTPBearer):
    """A bearer scheme that also authenticates: one dependency is both the scheme the OpenAPI
    document publishes and the check. Every signed-in request solves it, and FastAPI's solving
    costs per dependency: one here, where the scheme, the service and the caller were three."""

    missing: str | None = None  # the 401's detail without a credential (None: the default one)

    async def __call__(self, request: Request):  # type: ignore[override]
        credentials = await super().__call__(request)
        if credentials is None:
            raise Unauthorized(self.missing)
        found = await self.authenticate(request, credentials.credentials)
        bind(user_id=found.user.id)  # the request's log lines name who made it
        return found

    async def authenticate(self, request: Request, token: str) -> Session | Caller:
        raise NotImplementedError


class SessionBearer(AuthenticatingBearer):
    async def authenticate(self, request: Request, token: str) -> Session:
        return await (await get_account_service(request)).authenticate(token)


current_session = SessionBearer(scheme_name="bearer_jwt", bearerFormat="JWT", auto_error=False)
CurrentSession = Annotated[Session, Depends(current_session)]


async def current_user(session: CurrentSession) -> User:
    return session.user


CurrentUser = Annotated[User, Depends(current_user)]


async def admin_user(user: CurrentUser) -> User:
    if not user.is_admin:
        raise Forbidden("Admins only")
    return user


AdminUser = Annotated[User, Depends(admin_user)]


async def playground_user(request: Request, credentials: BearerJwt, accounts: AccountServiceDep) -> User:
    """The header wins; `?access_token=` is read without being published as a parameter."""
    token = credentials.credentials if credentials else request.query_params.get("access_token")
    if not token:
        raise Unauthorized()
    user = (await accounts.authenticate(token)).user
    bind(user_id=user.id)
    return user


PlaygroundUser = Annotated[User, Depends(playground_user)]
CurrentUserOrQueryToken = PlaygroundUser


class ApiKeyBearer(AuthenticatingBearer):
    missing = "Missing API key"

    async def authenticate(self, request: Request, token: str) -> Caller:
        return await (await get_api_key_service(request)).authenticate(token)


api_key_caller = ApiKeyBearer(scheme_name="bearer_api_key", bearerFormat="API Key", auto_error=False)
ApiKeyCaller = Annotated[Caller, Depends(api_key_caller)]


def per_user_limit(name: str, limit: int | Callable[[Settings], int], window_secs: int):
    """A route dependency: at most `limit` calls per signed-in user per window (429 beyond).
    `limit` may read the settings (e.g. the configured research creates per minute)."""

    async def enforce(request: Request, user: CurrentUser) -> None:
        state = request.app.state
        allowed = limit(state.settings) if callable(limit) else limit
        await rate_limiter_of(state).enforce(f"{name}:user:{user.id}", allowed, window_secs)

    return Depends(enforce)
