"""Browser fixtures: a real `infrence serve` (fake Stripe, offline research, mail kept in the
outbox) and Debian's Chromium driven by Playwright. Browser tests skip only when Chromium is
not installed (CI installs it)."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pytest
from playwright.sync_api import expect

from tests.conftest import REPO, ServerProcess, free_port, server_env
from tests.fakes.stripe_server import FakeStripe, sign

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
SCREENSHOTS = REPO / "test-output" / "screenshots"
PASSWORD = "a long browser password 42"
# 127.0.0.0/8 is all loopback on Linux: one source address per API-made account.
_SIGNUP_ADDRESSES = (f"127.0.{n // 250}.{n % 250 + 2}" for n in itertools.count())
# The machine is shared and small: wait for what a user would see, just not forever.
expect.set_options(timeout=30_000)


@dataclass
class Dashboard:
    """The running server and what a test needs to drive it from outside the browser."""

    server: ServerProcess
    stripe: FakeStripe
    database_url: str
    env: dict[str, str]

    @property
    def url(self) -> str:
        return self.server.base_url

    def mail_link(self, to: str, template: str, timeout: float = 15.0) -> str:
        """The link in the newest `template` mail to `to` (mail is kept in the outbox)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with psycopg.connect(self.database_url) as conn:
                row = conn.execute(
                    "SELECT text_body FROM mail_outbox WHERE to_address = %s AND template = %s "
                    "ORDER BY created_at DESC LIMIT 1", (to, template)).fetchone()
            if row:
                return re.search(r"https?://\S+", row[0]).group(0)
            time.sleep(0.2)
        raise AssertionError(f"no {template} mail to {to}")

    def deliver_stripe_event(self, event: dict) -> httpx.Response:
        """POST an event to the webhook endpoint the way Stripe does: raw JSON, signed."""
        payload = json.dumps(event)
        return httpx.post(f"{self.url}/api/billing/stripe-webhook", content=payload, headers={
            "Content-Type": "application/json", "Stripe-Signature": sign(payload, self.stripe.webhook_secret)})

    def create_verified_user(self, email: str, first_name: str = "Grace") -> httpx.Client:
        """A verified account (with its signup credits); returns an API client signed in as it.
        Each signs up from its own loopback address, as separate people would from their own
        IPs: from one address the signup rate limit (10 an hour) stops the package's tests."""
        with httpx.Client(transport=httpx.HTTPTransport(local_address=next(_SIGNUP_ADDRESSES))) as http:
            signup = http.post(f"{self.url}/api/auth/signup", json={
                "email": email, "password": PASSWORD, "first_name": first_name, "last_name": "Hopper"})
        assert signup.status_code == 200, signup.text
        assert httpx.get(self.mail_link(email, "verify")).status_code == 302
        return httpx.Client(base_url=self.url, timeout=120,
                            headers={"Authorization": f"Bearer {signup.json()['access_token']}"})

    def create_admin(self, email: str) -> None:
        subprocess.run([sys.executable, "-m", "api.cli", "admin", "create", email, "--password-stdin"],
                       input=PASSWORD + "\n", text=True, env=self.env, cwd=REPO, check=True, capture_output=True)


@pytest.fixture(scope="package")
def dashboard(database_url, redis_url, tmp_path_factory) -> Iterator[Dashboard]:
    """One server for every browser test here (each test signs up its own users)."""
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed (/usr/bin/chromium); .ci/run installs it")
    from core.settings import Settings
    from api.spa import WEB_DIST, build_if_missing

    build_if_missing()
    assert (WEB_DIST / "index.html").is_file(), "the dashboard did not build: run scripts/build_web.sh"
    stripe = FakeStripe().start()
    settings = Settings(INFRENCE_ENV="dev", INFRENCE_DATA_DIR=tmp_path_factory.mktemp("dashboard"),
                        DATABASE_URL=database_url, REDIS_URL=redis_url, JWT_SECRET="test-secret-" + "x" * 32)
    port = free_port()
    env = server_env(settings, INFRENCE_PUBLIC_URL=f"http://127.0.0.1:{port}",
                     STRIPE_SECRET_KEY=stripe.api_key, STRIPE_API_BASE=stripe.base_url,
                     STRIPE_WEBHOOK_SECRET=stripe.webhook_secret,
                     INFRENCE_CORPUS_DIR=str(REPO / "tests" / "graph" / "corpus"),
                     # every browser test signs up its own users from 127.0.0.1, past the default 10/h
                     INFRENCE_SIGNUPS_PER_IP_PER_HOUR="1000")
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "TAVILY_API_KEY", "SMTP_HOST"):
        env.pop(name, None)
    server = ServerProcess(env, port, workers=2)
    try:
        server.wait_healthy(timeout=120)
        yield Dashboard(server, stripe, database_url, env)
    finally:
        server.stop()
        stripe.stop()


@pytest.fixture(scope="module")
def browser(dashboard):
    """Per module: Playwright's sync API holds an event loop that async tests must not meet."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@dataclass
class Console:
    """Errors the page reported: console.error calls, failed loads and uncaught exceptions."""

    errors: list[str] = field(default_factory=list)


def new_page(browser, dashboard: Dashboard, console: Console, width: int = 1280):
    context = browser.new_context(viewport={"width": width, "height": 900}, base_url=dashboard.url)
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.on("console", lambda m: m.type == "error" and console.errors.append(m.text))
    page.on("pageerror", lambda e: console.errors.append(f"uncaught: {e}"))
    return page


@pytest.fixture
def console() -> Console:
    return Console()


@pytest.fixture
def page(browser, dashboard, console):
    page = new_page(browser, dashboard, console)
    yield page
    page.context.close()


def shot(page, name: str) -> None:
    """Save a full-page screenshot under test-output/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def log_in(page, email: str, password: str = PASSWORD) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("navigation", name="Main").wait_for(state="attached")


def unique_email(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}@example.com"
