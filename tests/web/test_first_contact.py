"""First contact, as the README tells it: `infrence serve` with nothing configured, sign up in
the dashboard, open the verification link the server printed in its console, ask a question,
get a cited answer. And the API reference renders with every host but the app blocked."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.conftest import ServerProcess, free_port, traversable_tempdir
from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS, PASSWORD, shot, unique_email

pytestmark = pytest.mark.timeout(400)

# What a fresh clone has: none of these set.
UNSET = (
    "DATABASE_URL",
    "REDIS_URL",
    "INFRENCE_ENV",
    "JWT_SECRET",
    "SMTP_HOST",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "TAVILY_API_KEY",
    "STRIPE_SECRET_KEY",
    "INFRENCE_CORPUS_DIR",
    "INFRENCE_PUBLIC_URL",
    "INFRENCE_MAIL",
    "INFRENCE_ALLOW_PRIVATE_URLS",
)
LINK = re.compile(r"^(http://\S+/api/auth/verify-email\?token=[\w-]+)$", re.MULTILINE)


@pytest.fixture(scope="module")
def fresh_server() -> Iterator[ServerProcess]:
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed (/usr/bin/chromium)")
    from api.spa import WEB_DIST

    assert (WEB_DIST / "index.html").is_file(), "run scripts/build_web.sh"
    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    # A person at a terminal gets text lines; the server's console here is a file.
    env.update(
        INFRENCE_DATA_DIR=str(traversable_tempdir("infrence-fresh-clone-") / ".infrence"),
        INFRENCE_LOG_FORMAT="text",
    )
    server = ServerProcess(env, free_port(), workers=2)
    try:
        server.wait_healthy(timeout=180)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def chromium():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium, fresh_server):
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, base_url=fresh_server.base_url)
    context.set_default_timeout(30_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
    page.errors = errors
    yield page
    context.close()


def link_printed_in_console(server: ServerProcess, email: str, timeout: float = 30.0) -> str:
    """The verification link from the readable mail block the server printed for `email`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        console = server.log_path.read_text()
        block = console.rpartition(f"Mail to {email}:")[2]
        found = LINK.search(block) if block != console else None
        if found:
            return found.group(1)
        time.sleep(0.3)
    raise AssertionError(f"no mail to {email} in the console:\n{server.log_path.read_text()}")


def test_from_serve_to_a_cited_answer_with_the_link_from_the_console(page, fresh_server):
    banner = fresh_server.log_path.read_text()
    assert f"Dashboard  {fresh_server.base_url}/" in banner and "Mail       printed here" in banner

    email = unique_email("newcomer")
    page.goto("/")
    page.get_by_role("link", name="Create an account").click()
    page.get_by_label("First name").fill("Ada")
    page.get_by_label("Last name").fill("Lovelace")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_text("Verify your email")).to_be_visible()
    expect(page.get_by_text("printed in the console where `infrence serve` runs")).to_be_visible()
    shot(page, "first-contact-verify-banner")

    page.goto(link_printed_in_console(fresh_server, email))
    expect(page).to_have_url(re.compile(r"/\?verified=1$"))
    expect(page.get_by_text("Email verified")).to_be_visible()

    page.get_by_role("link", name="Playground").click()
    page.get_by_label("Question").fill("How do checkpointed graphs resume after a crash?")
    page.get_by_text("Lite", exact=True).click()
    page.get_by_role("button", name=re.compile("Run research")).click()
    expect(page.get_by_text("Research complete")).to_be_visible(timeout=180_000)
    brief = page.locator("article.brief")
    expect(brief).to_contain_text(re.compile(r"checkpoint", re.IGNORECASE))
    expect(brief.locator("a.cite").first).to_be_visible()
    shot(page, "first-contact-answer")

    # Nothing configured takes no payments: Billing says so and offers no button that would fail.
    page.get_by_role("link", name="Billing").click()
    expect(page.get_by_text("Payments are not set up")).to_be_visible()
    buy = page.get_by_role("button", name=re.compile(r"^(Buy|Subscribe) "))
    expect(buy.first).to_be_visible()
    assert buy.count() > 0 and all(buy.nth(n).is_disabled() for n in range(buy.count()))
    expect(page.get_by_role("button", name="Manage payment methods")).to_be_disabled()
    assert page.errors == []


def test_resend_prints_a_new_link(page, fresh_server):
    email = unique_email("resender")
    page.goto("/signup")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    first = link_printed_in_console(fresh_server, email)
    page.get_by_role("button", name="Resend the link").click()
    expect(page.get_by_text(f"A new link was sent to {email}.")).to_be_visible()
    deadline = time.monotonic() + 30
    while (second := link_printed_in_console(fresh_server, email)) == first and time.monotonic() < deadline:
        time.sleep(0.3)
    assert second != first
    page.goto(second)
    expect(page.get_by_text("Email verified")).to_be_visible()


@pytest.mark.parametrize(
    ("path", "rendered"),
    [
        ("/docs", ".swagger-ui .info .title"),
        ("/redoc", "h1"),
    ],
)
def test_api_reference_renders_with_only_the_app_reachable(page, fresh_server, path, rendered):
    blocked: list[str] = []

    def only_the_app(route):
        if route.request.url.startswith(fresh_server.base_url):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    page.route("**/*", only_the_app)
    page.goto(path)
    expect(page.locator(rendered).first).to_contain_text("Infrence API", timeout=60_000)
    expect(page.get_by_text("create_research").or_(page.get_by_text("/v1/research")).first).to_be_attached()
    shot(page, f"api-reference{path.replace('/', '-')}")
    assert blocked == [], blocked
