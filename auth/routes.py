"""HTTP of `/api/auth/*`, `/api/settings/*` and `/api/keys*`: parse, authorize, call, shape."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, BackgroundTasks, Path, Query, Request, Response
from fastapi.responses import RedirectResponse

from auth.deps import AccountServiceDep, ApiKeyServiceDep, CurrentSession, CurrentUser, WebhookSecretsDep
from auth.schemas import (
    ApiKeyDto,
    AuthResponse,
    CreatedKey,
    CreateKeyBody,
    Done,
    ForgotBody,
    LoginBody,
    MailDelivery,
    MarketingBody,
    PasswordBody,
    ProfileBody,
    RefreshBody,
    ResetBody,
    Secret,
    SignupBody,
    UserDto,
    WebhookSecretDto,
)
from auth.service import AuthSession
from auth.tokens import ACCESS_TTL, REFRESH_TTL
from core.errors import Unauthorized, error_responses

auth_router = APIRouter(prefix="/api/auth", tags=["auth"])
settings_router = APIRouter(prefix="/api/settings", tags=["settings"])
keys_router = APIRouter(prefix="/api/keys", tags=["api-keys"])

KeyId = Annotated[UUID, Path(description="API key id")]


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


# The dashboard's refresh token: a cookie script cannot read, sent only to the refresh endpoint,
# never on a cross-site request. API clients keep using the JSON bodies.
REFRESH_COOKIE = "infrence_refresh"
REFRESH_COOKIE_PATH = "/api/auth/refresh"
# Readable by the dashboard, holds nothing secret: tells it a refresh is worth trying on load.
SIGNED_IN_COOKIE = "infrence_signed_in"


def _auth_response(session: AuthSession, response: Response) -> AuthResponse:
    """The JSON pair for API clients, and the refresh token again as the dashboard's cookie."""
    response.set_cookie(
        REFRESH_COOKIE,
        session.refresh_token,
        max_age=int(REFRESH_TTL.total_seconds()),
        path=REFRESH_COOKIE_PATH,
        secure=True,
        httponly=True,
        samesite="strict",
    )
    response.set_cookie(
        SIGNED_IN_COOKIE,
        "1",
        max_age=int(REFRESH_TTL.total_seconds()),
        path="/",
        secure=True,
        samesite="strict",
    )
    return AuthResponse(
        access_token=session.access_token,
        refresh_token=session.refresh_token,
        expires_in=int(ACCESS_TTL.total_seconds()),
        user=UserDto.of(session.user),
    )


# -- /api/auth --------------------------------------------------------------------------------


@auth_router.post("/signup", response_description="User created", responses=error_responses(400, 409, 429))
async def signup(
    body: SignupBody, request: Request, response: Response, accounts: AccountServiceDep
) -> AuthResponse:
    """Create an account and sign in; a verification link is mailed."""
    session = await accounts.signup(
        email=body.email,
        password=body.password,
        first_name=body.first_name,
        last_name=body.last_name,
        client_ip=_client_ip(request),
    )
    return _auth_response(session, response)


@auth_router.post("/login", response_description="Logged in", responses=error_responses(400, 401, 403, 429))
async def login(
    body: LoginBody, request: Request, response: Response, accounts: AccountServiceDep
) -> AuthResponse:
    session = await accounts.login(email=body.email, password=body.password, client_ip=_client_ip(request))
    return _auth_response(session, response)


@auth_router.post("/refresh", response_description="Refreshed", responses=error_responses(400, 401, 403))
async def refresh(
    body: RefreshBody, request: Request, response: Response, accounts: AccountServiceDep
) -> AuthResponse:
    """Exchange a refresh token for a new pair; each refresh token works once. Without
    `refresh_token` in the body, the `infrence_refresh` cookie set at login is used."""
    token = body.refresh_token or request.cookies.get(REFRESH_COOKIE)
    if not token:
        raise Unauthorized("Missing refresh token")
    return _auth_response(await accounts.refresh(token), response)


@auth_router.post("/logout", response_description="Logged out", responses=error_responses(400))
async def logout(
    body: RefreshBody, request: Request, response: Response, accounts: AccountServiceDep
) -> Done:
    """End the session the refresh token belongs to, or (without one in the body) the session
    of the bearer access token; the refresh cookie is cleared either way."""
    response.delete_cookie(
        REFRESH_COOKIE, path=REFRESH_COOKIE_PATH, secure=True, httponly=True, samesite="strict"
    )
    response.delete_cookie(SIGNED_IN_COOKIE, path="/", secure=True, samesite="strict")
    if body.refresh_token:
        await accounts.logout(body.refresh_token)
    elif (bearer := _bearer_token(request)) is not None:
        await accounts.logout_session(bearer)
    return Done()


def _bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


@auth_router.get("/me", response_description="Current user", responses=error_responses(401, 403))
async def me(user: CurrentUser) -> UserDto:
    return UserDto.of(user)


@auth_router.get(
    "/verify-email",
    status_code=302,
    response_class=RedirectResponse,
    responses={302: {"description": "Redirect to dashboard on success"}, **error_responses(400)},
)
async def verify_email(
    token: Annotated[Secret, Query()], accounts: AccountServiceDep, request: Request
) -> RedirectResponse:
    await accounts.verify_email(token)
    base = request.app.state.settings.public_url.rstrip("/")
    return RedirectResponse(f"{base}/?verified=1", status_code=302)


@auth_router.post(
    "/resend-verification",
    response_description="A new verification link was mailed",
    responses=error_responses(401, 403, 409, 429),
)
async def resend_verification(
    user: CurrentUser, accounts: AccountServiceDep, request: Request
) -> MailDelivery:
    """Mail a fresh verification link (5 per hour); says where the mail went."""
    await accounts.resend_verification(user)
    return MailDelivery(delivery=request.app.state.settings.mail_delivery)


@auth_router.get("/mail-delivery", response_description="Where this server's mail goes")
async def mail_delivery(request: Request) -> MailDelivery:
    """Lets the dashboard tell a developer where to find a mailed link when no SMTP is configured."""
    return MailDelivery(delivery=request.app.state.settings.mail_delivery)


@auth_router.post(
    "/forgot-password",
    response_description="If the email exists, a reset link has been sent",
    responses=error_responses(400, 429),
)
async def forgot_password(
    body: ForgotBody, request: Request, background: BackgroundTasks, accounts: AccountServiceDep
) -> Done:
    """Same answer for known and unknown emails; the work happens after the response."""
    await accounts.check_reset_rate(_client_ip(request))
    background.add_task(accounts.request_password_reset, body.email)
    return Done()


@auth_router.post(
    "/reset-password", response_description="Password reset", responses=error_responses(400, 429)
)
async def reset_password(body: ResetBody, request: Request, accounts: AccountServiceDep) -> Done:
    """Set a new password with a mailed token; signs out every session."""
    await accounts.reset_password(body.token, body.password, client_ip=_client_ip(request))
    return Done()


# -- /api/settings ----------------------------------------------------------------------------


@settings_router.put(
    "/profile", response_description="Profile updated", responses=error_responses(400, 401, 403)
)
async def update_profile(body: ProfileBody, user: CurrentUser, accounts: AccountServiceDep) -> UserDto:
    return UserDto.of(
        await accounts.update_profile(user, first_name=body.first_name, last_name=body.last_name)
    )


@settings_router.put(
    "/password", response_description="Password changed", responses=error_responses(400, 401, 403, 429)
)
async def change_password(body: PasswordBody, session: CurrentSession, accounts: AccountServiceDep) -> Done:
    """Needs the current password; signs out every other session."""
    await accounts.change_password(
        session, current_password=body.current_password, new_password=body.new_password
    )
    return Done()


@settings_router.put(
    "/marketing",
    response_description="Marketing preference updated",
    responses=error_responses(400, 401, 403),
)
async def set_marketing(body: MarketingBody, user: CurrentUser, accounts: AccountServiceDep) -> UserDto:
    return UserDto.of(await accounts.set_marketing(user, body.enabled))


@settings_router.get(
    "/webhook-secret",
    response_description="The account's webhook signing secret",
    responses=error_responses(401, 403),
)
async def get_webhook_secret(user: CurrentUser, secrets: WebhookSecretsDep) -> WebhookSecretDto:
    """The `whsec_...` secret that signs this account's research webhooks."""
    return WebhookSecretDto(webhook_secret=await secrets.for_user(user.id))


@settings_router.post(
    "/webhook-secret/rotate",
    response_description="A new webhook signing secret",
    responses=error_responses(401, 403),
)
async def rotate_webhook_secret(user: CurrentUser, secrets: WebhookSecretsDep) -> WebhookSecretDto:
    """Replace the secret; webhooks sent from now on are signed with the new one."""
    return WebhookSecretDto(webhook_secret=await secrets.rotate(user.id))


# -- /api/keys --------------------------------------------------------------------------------


@keys_router.get("", response_description="List API keys", responses=error_responses(401, 403))
async def list_keys(user: CurrentUser, keys: ApiKeyServiceDep) -> list[ApiKeyDto]:
    """Active keys, newest first; never the secret."""
    return [ApiKeyDto.of(key) for key in await keys.active_keys(user)]


@keys_router.post("", response_description="Created", responses=error_responses(400, 401, 403, 429))
async def create_key(body: CreateKeyBody, user: CurrentUser, keys: ApiKeyServiceDep) -> CreatedKey:
    """A new key; `plaintext` is shown this once."""
    issued = await keys.create(user, body.name)
    return CreatedKey(**ApiKeyDto.of(issued.key).model_dump(), plaintext=issued.plaintext)


@keys_router.delete("/{id}", response_description="Revoked", responses=error_responses(400, 401, 403, 404))
async def revoke_key(id: KeyId, user: CurrentUser, keys: ApiKeyServiceDep) -> Done:
    """The key stops working at once."""
    await keys.revoke(user, id)
    return Done()


@keys_router.post(
    "/{id}/reset", response_description="Reset", responses=error_responses(400, 401, 403, 404, 429)
)
async def reset_key(id: KeyId, user: CurrentUser, keys: ApiKeyServiceDep) -> CreatedKey:
    """A new secret for the same key; the old one stops working at once."""
    issued = await keys.reset(user, id)
    return CreatedKey(**ApiKeyDto.of(issued.key).model_dump(), plaintext=issued.plaintext)


routers = [auth_router, settings_router, keys_router]
