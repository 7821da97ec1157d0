"""A new user's walk through the dashboard in headless Chromium, against a real server:
sign up, verify, create an API key, run research live, read the cited brief, find the job
in the logs, buy credits through Checkout, then the remaining pages."""

from __future__ import annotations

import re

import httpx
import psycopg
import pytest
from playwright.sync_api import expect

from graph.modes import MODES
from tests.waiting import until_sync
from tests.web.conftest import PASSWORD, shot, unique_email

pytestmark = pytest.mark.timeout(300)


def sign_up(page, email: str) -> None:
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login$"))
    shot(page, "login")
    page.get_by_role("link", name="Create an account").click()
    page.get_by_label("First name").fill("Ada")
    page.get_by_label("Last name").fill("Lovelace")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    shot(page, "signup")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Hello, Ada")).to_be_visible()
    expect(page.get_by_text("Verify your email")).to_be_visible()


def test_a_new_user_walks_from_signup_to_a_paid_checkout(page, dashboard, console):
    email = unique_email("walker")
    sign_up(page, email)

    # Verify from the mail in the outbox: the API redirects to /?verified=1.
    page.goto(dashboard.mail_link(email, "verify"))
    expect(page).to_have_url(re.compile(r"/\?verified=1$"))
    expect(page.get_by_text("Email verified")).to_be_visible()
    expect(page.get_by_text("100 credits", exact=True)).to_be_visible()
    shot(page, "overview")

    # API keys: create, see it once, copy it.
    page.get_by_role("link", name="API keys").click()
    page.get_by_label("Name").fill("Laptop")
    page.get_by_role("button", name="Create key").click()
    secret = page.get_by_test_id("new-key")
    expect(secret).to_have_text(re.compile(r"^ifr_\w+$"))
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.get_by_role("button", name="Copy key").click()
    expect(page.get_by_role("button", name="Copied ✓")).to_be_visible()
    key = secret.inner_text()
    shot(page, "keys")
    page.get_by_role("button", name="I have saved it").click()
    expect(page.get_by_test_id("new-key")).to_have_count(0)
    expect(page.get_by_role("cell", name="Laptop", exact=True)).to_be_visible()
    assert httpx.get(f"{dashboard.url}/v1/credits", headers={"Authorization": f"Bearer {key}"}).status_code == 200

    # Playground: a lite run followed live to its brief.
    page.get_by_role("link", name="Playground").click()
    page.get_by_label("Question").fill("How do heat pumps work and how efficient are they?")
    page.get_by_text("Lite", exact=True).click()
    # The mode cards come from GET /v1/modes, i.e. the graph's price table.
    lite = page.locator(".mode", has_text="Lite")
    expect(lite.locator(".mode-price")).to_have_text(f"{MODES['lite'].price_credits} credits")
    expect(lite.locator(".mode-envelope")).to_have_text(re.compile(rf"^1 wave · {MODES['lite'].budgets.max_pages} pages"))
    page.get_by_label("Return typed JSON that follows my schema").check()
    schema = page.get_by_label("JSON Schema")
    schema.fill('{"type": "object", "properties": {"answer": {"type": "strin"}}')
    expect(page.get_by_text("Not valid JSON")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("Run research"))).to_be_disabled()
    schema.press("End")
    schema.press_sequentially("}")
    expect(page.get_by_text('schema.properties.answer.type: unknown type "strin"')).to_be_visible()
    schema.fill('{"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}')
    expect(page.get_by_text("✓ Valid JSON Schema shape")).to_be_visible()
    page.get_by_label("Return typed JSON that follows my schema").uncheck()
    page.get_by_role("button", name=re.compile("Run research")).click()
    timeline = page.locator("ol.timeline")
    expect(timeline.locator("li").first).to_be_visible()
    expect(page.get_by_text("Research complete")).to_be_visible(timeout=120_000)
    expect(timeline.get_by_text("A worker started the job")).to_be_visible()
    expect(page.get_by_role("progressbar", name="Spend")).to_be_visible()
    brief = page.locator("article.brief")
    expect(brief).to_be_visible()
    first_cite = brief.locator("a.cite").first
    expect(first_cite).to_be_visible()
    n = first_cite.get_attribute("data-cite")
    first_cite.click()
    expect(page.locator(f"#source-{n}")).to_be_focused()
    typed = page.locator(".result-typed")
    expect(typed.get_by_text("answer", exact=True)).to_be_visible()
    expect(typed.locator(".basis a.cite").first).to_be_visible()
    shot(page, "playground")

    # Logs: the job is there; anonymize hides the question.
    page.get_by_role("link", name="Logs").click()
    expect(page.get_by_role("link", name="How do heat pumps work and how efficient are they?")).to_be_visible()
    page.get_by_label("Status").select_option("succeeded")
    expect(page.get_by_role("cell", name="succeeded").first).to_be_visible()
    page.get_by_label("Anonymize questions").check()
    expect(page.get_by_text("How do heat pumps work")).to_have_count(0)
    shot(page, "logs")

    # Billing: Checkout redirect to (fake) Stripe, paid, webhook delivered, back with credits.
    page.route("https://checkout.stripe.test/**", lambda route: route.fulfill(
        status=200, content_type="text/html", body="<title>Stripe Checkout</title><h1>Pay</h1>"))
    page.get_by_role("link", name="Billing").click()
    expect(page.get_by_role("heading", name="Credit packs")).to_be_visible()
    shot(page, "billing")
    page.get_by_role("button", name=re.compile(r"^Buy ")).first.click()
    page.wait_for_url(re.compile(r"^https://checkout\.stripe\.test/"))
    session_id = page.url.rsplit("/", 1)[-1]
    for event in dashboard.stripe.pay_checkout(session_id):
        assert dashboard.deliver_stripe_event(event).status_code == 200
    page.goto(f"/billing?checkout=success&session_id={session_id}")
    expect(page.get_by_text("Payment received")).to_be_visible()
    page.reload()
    expect(page.get_by_role("cell", name="paid").or_(page.get_by_role("cell", name="completed")).or_(
        page.get_by_role("cell", name="succeeded"))).to_be_visible()
    shot(page, "billing-paid")

    # Settings: reveal the webhook secret.
    page.get_by_role("link", name="Settings").click()
    page.get_by_role("button", name="Reveal secret").click()
    expect(page.get_by_test_id("webhook-secret")).to_have_text(re.compile(r"^whsec_"))
    shot(page, "settings")

    # Support: a ticket.
    page.get_by_role("link", name="Support").click()
    page.get_by_label("Category").select_option("billing")
    page.get_by_label("Subject").fill("Invoice address")
    page.get_by_label("How can we help?").fill("Please put our VAT number on invoices.")
    page.get_by_role("button", name="Send ticket").click()
    expect(page.get_by_text("Ticket sent")).to_be_visible()
    shot(page, "support")

    assert console.errors == []


def checkpointer_ready(conn) -> bool:
    """The workers have run every migration of LangGraph's checkpointer (a lock taken earlier
    would stall the setup, and with it every worker)."""
    from langgraph.checkpoint.postgres.base import MIGRATIONS

    if conn.execute("SELECT to_regclass('checkpoint_migrations')").fetchone()[0] is None:
        return False
    return conn.execute("SELECT max(v) FROM checkpoint_migrations").fetchone()[0] == len(MIGRATIONS) - 1


def test_cancel_from_the_playground_settles_the_job(page, dashboard, console):
    """Offline research finishes in moments, so the test holds the job at its first checkpoint
    (a lock on LangGraph's checkpoint table): the job is running when Cancel is clicked, the
    worker's heartbeat sees the cancel, and the job ends canceled, never succeeded."""
    from tests.web.conftest import log_in

    email = unique_email("cancel")
    dashboard.create_verified_user(email).close()
    log_in(page, email)
    page.goto("/playground")
    page.get_by_label("Question").fill("Compare solar, wind and hydrogen storage for a small town.")
    page.get_by_text("Max", exact=True).click()
    page.get_by_label("Credit cap").fill("50")
    with psycopg.connect(dashboard.database_url, autocommit=True) as holder:
        until_sync(lambda: checkpointer_ready(holder), what="the workers to set up LangGraph's tables")
        holder.execute("BEGIN")
        holder.execute("LOCK TABLE checkpoints IN EXCLUSIVE MODE")  # reads pass, the run's writes wait
        page.get_by_role("button", name=re.compile("Run research")).click()
        expect(page.get_by_text("A worker started the job")).to_be_visible(timeout=60_000)
        with page.expect_response(lambda r: r.request.method == "DELETE") as canceled:
            page.get_by_role("button", name="Cancel").click()
        assert canceled.value.status == 200
        expect(page.get_by_role("button", name="Cancel")).to_have_count(0)
        expect(page.locator(".card-head .badge")).to_have_text("canceled")
        expect(page.get_by_text(re.compile(r"stopped: canceled"))).to_be_visible()
    shot(page, "playground-canceled")
    assert console.errors == []
