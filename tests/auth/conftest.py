"""Accounts test helpers: cheap password hashing, a fake SMTP server, and an `accounts` API driver."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import httpx
import psycopg
import pytest

from tests.fakes.smtp import smtp_server  # noqa: F401 (fixture)

PASSWORD = "correct horse battery"
_emails = itertools.count(1)


@pytest.fixture
def settings(settings):
    """The shared settings with argon2 at its smallest memory cost, so tests stay fast."""
    return settings.model_copy(update={"password_hash_memory_kib": 1024})


@dataclass
class SignedIn:
    email: str
    access_token: str
    refresh_token: str
    user: dict

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


class AccountsApi:
    """Drives the accounts endpoints the way the dashboard does."""

    def __init__(self, client: httpx.AsyncClient, database_url: str):
        self.client = client
        self.database_url = database_url

    @staticmethod
    def new_email() -> str:
        return f"user{next(_emails)}@example.com"

    async def signup(self, email: str | None = None, password: str = PASSWORD, **extra) -> SignedIn:
        email = email or self.new_email()
        response = await self.client.post(
            "/api/auth/signup", json={"email": email, "password": password, **extra}
        )
        assert response.status_code == 200, response.text
        return self._signed_in(email, response)

    async def login(self, email: str, password: str = PASSWORD) -> SignedIn:
        response = await self.client.post("/api/auth/login", json={"email": email, "password": password})
        assert response.status_code == 200, response.text
        return self._signed_in(email, response)

    async def refresh(self, refresh_token: str) -> httpx.Response:
        return await self.client.post("/api/auth/refresh", json={"refresh_token": refresh_token})

    async def me(self, access_token: str) -> httpx.Response:
        return await self.client.get("/api/auth/me", headers={"Authorization": f"Bearer {access_token}"})

    def sql(self, query: str, params: dict | tuple = ()) -> list[tuple]:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            cur = conn.execute(query, params)
            return cur.fetchall() if cur.description else []

    def suspend(self, email: str) -> None:
        self.sql("UPDATE users SET suspended_at = now() WHERE email = %s", (email,))

    @staticmethod
    def _signed_in(email: str, response: httpx.Response) -> SignedIn:
        body = response.json()
        return SignedIn(
            email=email,
            access_token=body["access_token"],
            refresh_token=body["refresh_token"],
            user=body["user"],
        )


@pytest.fixture
def accounts(client, database_url) -> AccountsApi:
    return AccountsApi(client, database_url)


@pytest.fixture
async def signed_in(accounts) -> SignedIn:
    return await accounts.signup(first_name="Ada", last_name="Lovelace")
