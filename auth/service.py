"""Accounts: signup, login, sessions (rotating refresh tokens), email verification and reset,
profile and password. Owns the rules and the transactions; SQL lives in the repository."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from redis.asyncio import Redis

from auth.models import User
from auth.passwords import check_policy, passwords_for
from auth.repository import AccountRepository
from auth.tokens import REFRESH_TTL, RESET_TTL, VERIFY_TTL, AccessTokens, hash_token, new_opaque_token
from core.db import Database, Tx
from core.errors import AccountSuspended, Conflict, InvalidRequest, Unauthorized
from core.mail import Mailer, OutboxMessage
from core.ratelimit import RateLimiter
from core.settings import Settings
from ledger.service import LedgerService

log = logging.getLogger(__name__)

LOGIN_WINDOW_SECS = 15 * 60
LOGIN_FAILURES_PER_EMAIL_AND_IP = 10
LOGIN_FAILURES_PER_IP = 50
# Failures per account from every IP: past it the account is in soft lockout (see `login`).
LOGIN_FAILURES_PER_ACCOUNT = 30
KNOWN_IPS_TTL_SECS = 90 * 24 * 3600  # how long an IP that signed in stays trusted for soft lockout
RESET_REQUESTS_PER_IP_PER_HOUR = 20
VERIFICATION_RESENDS_PER_USER_PER_HOUR = 5


class AlreadyVerified(Conflict):
    code = "already_verified"
    detail = "This email address is already verified"


RESETS_PER_IP_PER_HOUR = 20
RESETS_PER_TOKEN = 5  # guesses of a new password against one mailed token (its 1 h lifetime)
PASSWORD_CHANGES_PER_USER_PER_HOUR = 10


class EmailTaken(Conflict):
    code = "email_taken"
    detail = "Email already registered"


class InvalidCredentials(Unauthorized):
    code = "invalid_credentials"
    detail = "Invalid email or password"


class InvalidToken(InvalidRequest):
    code = "invalid_token"

    def __init__(self, detail: str = "Invalid or expired token", *, field: str = "token"):
        super().__init__(detail, field=field)


@dataclass(frozen=True)
class AuthSession:
    """What a successful signup, login or refresh hands back."""

    access_token: str
    refresh_token: str
    user: User


@dataclass(frozen=True)
class Session:
    """The signed-in user of a request and the session (refresh family) it runs under."""

    user: User
    session_id: UUID


class AccountService:
    def __init__(
        self,
        db: Database,
        redis: Redis,
        settings: Settings,
        mailer: Mailer,
        repository: AccountRepository | None = None,
        limits: RateLimiter | None = None,
    ):
        self.db = db
        self.redis = redis
        self.settings = settings
        self.mailer = mailer
        self.limits = limits or RateLimiter(redis)
        self.users = repository or AccountRepository()
        self.ledger = LedgerService(db)
        self.passwords = passwords_for(settings.password_hash_memory_kib)
        self.access_tokens = AccessTokens(settings.jwt_secret, settings.jwt_key_id)

    # -- signup, login, sessions --------------------------------------------------------------

    async def signup(
        self, *, email: str, password: str, first_name: str | None, last_name: str | None, client_ip: str
    ) -> AuthSession:
        """A new unverified user with an empty credit account, signed in; the verification mail
        is written in the same transaction and sent after commit."""
        await self.limits.enforce(f"signup:ip:{client_ip}", self.settings.signups_per_ip_per_hour, 3600)
        check_policy(password, field="password", email=email)
        password_hash = await self.passwords.hash(password)
        async with self.db.transaction() as tx:
            user = await self.users.insert_user(
                tx,
                email=email,
                password_hash=password_hash,
                first_name=first_name or "",
                last_name=last_name or "",
            )
            if user is None:
                raise EmailTaken()
            await self.ledger.open_account(user.id, tx=tx)
            verification = await self._enqueue_email_token(tx, user, "verify")
            session = await self._new_session(tx, user)
        self.mailer.dispatch(verification)
        return session

    async def login(self, *, email: str, password: str, client_ip: str) -> AuthSession:
        """Failures are counted per (email, IP), per IP and per account; past a limit -> 429.

        The per-account count stops a botnet spreading guesses over many IPs. Reaching it is a
        *soft* lockout: IPs this account has signed in from before still get their password
        checked (under their own per-(email, IP) limit), so an attacker elsewhere cannot lock
        the owner out; unknown IPs are refused until the window ends.
        """
        email_and_ip = (f"login-failures:{email}:{client_ip}", LOGIN_FAILURES_PER_EMAIL_AND_IP)
        per_ip = (f"login-failures:ip:{client_ip}", LOGIN_FAILURES_PER_IP)
        per_account = (f"login-failures:account:{email}", LOGIN_FAILURES_PER_ACCOUNT)
        for key, limit in (email_and_ip, per_ip):
            state = await self.limits.peek(key, limit, LOGIN_WINDOW_SECS)
            if state.remaining == 0:
                raise state.refuse("Too many failed logins, try again later")
        account_state = await self.limits.peek(*per_account, LOGIN_WINDOW_SECS)
        if account_state.remaining == 0 and not await self._is_known_ip(email, client_ip):
            raise account_state.refuse("Too many failed logins for this account, try again later")
        async with self.db.connection() as conn:
            found = await self.users.credentials_by_email(conn, email)
        if not await self.passwords.verify(found[1] if found else None, password):
            for key, limit in (email_and_ip, per_ip, per_account):
                await self.limits.hit(key, limit, LOGIN_WINDOW_SECS)
            raise InvalidCredentials()
        user, password_hash = found
        if user.is_suspended:
            raise AccountSuspended()
        await self.limits.clear(email_and_ip[0], LOGIN_WINDOW_SECS)
        await self._remember_ip(email, client_ip)
        async with self.db.transaction() as tx:
            if self.passwords.needs_rehash(password_hash):
                await self.users.set_password(tx, user.id, await self.passwords.hash(password))
            return await self._new_session(tx, user)

    async def _is_known_ip(self, email: str, client_ip: str) -> bool:
        return bool(await self.redis.sismember(_known_ips_key(email), client_ip))

    async def _remember_ip(self, email: str, client_ip: str) -> None:
        key = _known_ips_key(email)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.sadd(key, client_ip)
            pipe.expire(key, KNOWN_IPS_TTL_SECS)
            await pipe.execute()

    async def refresh(self, refresh_token: str) -> AuthSession:
        """Rotate: the presented token is spent and a new one of the same family issued.
        Presenting a spent token again means it leaked: the whole family is revoked."""
        failure: Exception | None = None
        async with self.db.transaction() as tx:
            token = await self.users.refresh_token_for_update(tx, hash_token(refresh_token))
            if token is None or token.revoked_at is not None or token.expires_at <= datetime.now(UTC):
                failure = Unauthorized("Invalid or expired refresh token")
            elif token.rotated_at is not None:
                await self.users.revoke_family(tx, token.family_id)
                log.warning(
                    "refresh token reused for user %s: session %s revoked", token.user_id, token.family_id
                )
                failure = Unauthorized("Refresh token already used; session revoked")
            else:
                user = await self.users.user_by_id(tx, token.user_id)
                if user.is_suspended:
                    failure = AccountSuspended()
                else:
                    await self.users.mark_rotated(tx, token.id)
                    return await self._issue(tx, user, token.family_id)
        raise failure  # after commit, so a detected reuse stays revoked

    async def logout(self, refresh_token: str) -> None:
        """Revoke the presented token's whole session; unknown tokens are ignored."""
        async with self.db.transaction() as tx:
            token = await self.users.refresh_token_for_update(tx, hash_token(refresh_token))
            if token is not None:
                await self.users.revoke_family(tx, token.family_id)

    async def logout_session(self, access_token: str) -> None:
        """Revoke the session an access token was issued under (the dashboard signs out with
        it: its refresh token is in a cookie only the refresh endpoint receives). Invalid or
        expired tokens are ignored."""
        try:
            claims = self.access_tokens.decode(access_token)
        except Unauthorized:
            return
        async with self.db.transaction() as tx:
            await self.users.revoke_family(tx, claims.session_id)

    async def authenticate(self, access_token: str) -> Session:
        """The user behind an access token, while its session lives and the user is not suspended."""
        claims = self.access_tokens.decode(access_token)
        async with self.db.connection() as conn:
            user = await self.users.session_user(conn, claims.user_id, claims.session_id)
        if user is None:
            raise Unauthorized("Session expired or revoked")
        if user.is_suspended:
            raise AccountSuspended()
        return Session(user=user, session_id=claims.session_id)

    async def _new_session(self, tx: Tx, user: User) -> AuthSession:
        return await self._issue(tx, user, uuid.uuid4())

    async def _issue(self, tx: Tx, user: User, family_id: UUID) -> AuthSession:
        refresh_token = new_opaque_token()
        await self.users.insert_refresh_token(
            tx,
            user_id=user.id,
            family_id=family_id,
            token_hash=hash_token(refresh_token),
            expires_at=datetime.now(UTC) + REFRESH_TTL,
        )
        return AuthSession(
            access_token=self.access_tokens.issue(user.id, family_id), refresh_token=refresh_token, user=user
        )

    # -- email tokens ---------------------------------------------------------------------------

    async def verify_email(self, token: str) -> None:
        """Spend a verification token; the first verification grants the signup credits."""
        async with self.db.transaction() as tx:
            user_id = await self.users.consume_email_token(tx, "verify", hash_token(token))
            if user_id is None:
                raise InvalidToken()
            if await self.users.mark_verified(tx, user_id):
                await self._grant_signup_credits(tx, user_id)

    async def resend_verification(self, user: User) -> None:
        """A fresh verification link for a signed-in, unverified user (earlier links keep working
        until they expire); a few per hour, so it cannot be used to flood a mailbox."""
        if user.email_verified:
            raise AlreadyVerified()
        await self.limits.enforce(f"verify-resend:{user.id}", VERIFICATION_RESENDS_PER_USER_PER_HOUR, 3600)
        async with self.db.transaction() as tx:
            verification = await self._enqueue_email_token(tx, user, "verify")
        self.mailer.dispatch(verification)

    async def _grant_signup_credits(self, tx: Tx, user_id: UUID) -> None:
        credits = self.settings.signup_grant_credits
        if credits > 0:
            await self.ledger.grant(
                user_id, credits, kind="signup_grant", idempotency_key=f"signup_grant:{user_id}", tx=tx
            )

    async def check_reset_rate(self, client_ip: str) -> None:
        await self.limits.enforce(f"password-reset:ip:{client_ip}", RESET_REQUESTS_PER_IP_PER_HOUR, 3600)

    async def request_password_reset(self, email: str) -> None:
        """Mail a reset link if the account exists. Runs after the response is sent, so the
        answer and its timing are the same for known and unknown emails."""
        async with self.db.transaction() as tx:
            found = await self.users.credentials_by_email(tx, email)
            if found is None or found[0].is_suspended:
                return
            message = await self._enqueue_email_token(tx, found[0], "reset")
        self.mailer.dispatch(message)

    async def reset_password(self, token: str, password: str, *, client_ip: str) -> None:
        """Spend a reset token, set the password and end every session of the user.

        The token is looked up before any hashing, so a flood of made-up tokens costs one
        indexed read each, never an argon2 hash; attempts are limited per IP and per token."""
        await self.limits.enforce(f"reset-password:ip:{client_ip}", RESETS_PER_IP_PER_HOUR, 3600)
        token_hash = hash_token(token)
        await self.limits.enforce(f"reset-password:token:{token_hash.hex()}", RESETS_PER_TOKEN, 3600)
        check_policy(password, field="password")
        async with self.db.connection() as conn:
            user_id = await self.users.email_token_user(conn, "reset", token_hash)
            user = await self.users.user_by_id(conn, user_id) if user_id else None
        if user is None:
            raise InvalidToken()
        check_policy(password, field="password", email=user.email)
        password_hash = await self.passwords.hash(password)
        async with self.db.transaction() as tx:
            if await self.users.consume_email_token(tx, "reset", token_hash) is None:
                raise InvalidToken()  # spent by a concurrent reset meanwhile
            await self.users.set_password(tx, user.id, password_hash)
            await self.users.revoke_user_sessions(tx, user.id)

    async def _enqueue_email_token(self, tx: Tx, user: User, purpose: str) -> OutboxMessage:
        token = new_opaque_token()
        ttl = VERIFY_TTL if purpose == "verify" else RESET_TTL
        await self.users.insert_email_token(
            tx,
            user_id=user.id,
            purpose=purpose,
            token_hash=hash_token(token),
            expires_at=datetime.now(UTC) + ttl,
        )
        base = self.settings.public_url.rstrip("/")
        link = (
            f"{base}/api/auth/verify-email?token={token}"
            if purpose == "verify"
            else f"{base}/reset-password?token={token}"
        )
        return await self.mailer.enqueue(tx, purpose, user.email, link=link)

    # -- settings -------------------------------------------------------------------------------

    async def update_profile(self, user: User, *, first_name: str, last_name: str) -> User:
        async with self.db.connection() as conn:
            return await self.users.update_profile(conn, user.id, first_name, last_name)

    async def set_marketing(self, user: User, enabled: bool) -> User:
        async with self.db.connection() as conn:
            return await self.users.set_marketing(conn, user.id, enabled)

    async def change_password(self, session: Session, *, current_password: str, new_password: str) -> None:
        """Needs the current password; ends every other session (this one stays signed in).
        Limited per user: a stolen access token must not become a fast password oracle."""
        await self.limits.enforce(
            f"password-change:user:{session.user.id}", PASSWORD_CHANGES_PER_USER_PER_HOUR, 3600
        )
        async with self.db.connection() as conn:
            current_hash = await self.users.password_hash(conn, session.user.id)
        if not await self.passwords.verify(current_hash, current_password):
            raise InvalidCredentials("Current password is incorrect")
        check_policy(new_password, field="new_password", email=session.user.email)
        new_hash = await self.passwords.hash(new_password)
        async with self.db.transaction() as tx:
            await self.users.set_password(tx, session.user.id, new_hash)
            await self.users.revoke_user_sessions(tx, session.user.id, keep_family_id=session.session_id)

    # -- operators ------------------------------------------------------------------------------

    async def create_admin(self, email: str, password: str | None) -> tuple[User, bool]:
        """Create a verified admin, or promote (and verify) an existing account.
        Returns the user and whether it was created."""
        password_hash = None
        if password is not None:
            check_policy(password, field="password", email=email)
            password_hash = await self.passwords.hash(password)
        async with self.db.transaction() as tx:
            user = await self.users.promote_to_admin(tx, email, password_hash)
            if user is not None:
                return user, False
            if password_hash is None:
                raise InvalidRequest("A new admin needs a password (--password-stdin)", field="password")
            await self.users.insert_user(
                tx, email=email, password_hash=password_hash, first_name="", last_name=""
            )
            user = await self.users.promote_to_admin(tx, email, None)
            await self.ledger.open_account(user.id, tx=tx)
            return user, True


def _known_ips_key(email: str) -> str:
    return f"login-known-ips:{email}"


async def create_admin_account(
    settings: Settings, database_url: str, email: str, password: str | None
) -> tuple[User, bool]:
    """`infrence admin create`: outside any app, so its own small pool and no Redis."""
    from pydantic import TypeAdapter, ValidationError

    from auth.schemas import Email

    try:
        email = TypeAdapter(Email).validate_python(email)
    except ValidationError:
        raise InvalidRequest("Not a valid email address", field="email") from None
    db = Database(database_url, min_size=1, max_size=2)
    await db.open()
    try:
        accounts = AccountService(db, None, settings, Mailer(db, settings))  # type: ignore[arg-type]
        return await accounts.create_admin(email, password)
    finally:
        await db.close()
