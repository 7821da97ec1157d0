"""An admin's walk through every admin page in headless Chromium: stats, a user's detail with
a credit adjustment and suspension, a job's raw request and a refund, a ticket reply with
close and reopen, and a Stripe event replay. A regular user is kept out."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.web.conftest import log_in, new_page, shot, unique_email

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def customer(dashboard):
    """A verified user with one finished lite job, one open ticket and one paid pack."""
    email = unique_email("customer")
    with dashboard.create_verified_user(email) as api:
        job = api.post("/api/playground/research", json={"question": "How efficient are heat pumps?", "mode": "lite"})
        assert job.status_code == 200 and job.json()["status"] == "succeeded", job.text
        ticket = api.post("/api/support", json={"category": "billing", "subject": "Refund please",
                                                "body": "The last run answered the wrong question."})
        assert ticket.status_code == 200, ticket.text
        checkout = api.post("/api/billing/checkout", json={"pack_id": "pack_1000"})
        if checkout.status_code == 400:  # pack ids come from the catalog
            pack_id = api.get("/api/billing/packs").json()[0]["id"]
            checkout = api.post("/api/billing/checkout", json={"pack_id": pack_id})
        assert checkout.status_code == 200, checkout.text
    for event in dashboard.stripe.pay_checkout(checkout.json()["url"].rsplit("/", 1)[-1]):
        assert dashboard.deliver_stripe_event(event).status_code == 200
    return email


def test_admin_pages_are_for_admins_only(browser, dashboard, console):
    email = unique_email("nosy")
    dashboard.create_verified_user(email).close()
    page = new_page(browser, dashboard, console)
    try:
        log_in(page, email)
        expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Stats")).to_have_count(0)
        page.goto("/admin/users")
        expect(page.get_by_text("Admins only")).to_be_visible()
        assert console.errors == []
    finally:
        page.context.close()


def test_an_admin_walks_every_admin_page(page, dashboard, console, customer):
    admin = unique_email("admin")
    dashboard.create_admin(admin)
    log_in(page, admin)
    nav = page.get_by_role("navigation", name="Main")

    # Stats with charts.
    nav.get_by_role("link", name="Stats").click()
    expect(page.get_by_role("heading", name="Admin · Stats")).to_be_visible()
    expect(page.get_by_role("img", name=re.compile("^Signups per day"))).to_be_visible()
    expect(page.get_by_role("img", name=re.compile("^Jobs per day"))).to_be_visible()
    shot(page, "admin-stats")

    # Users: search, detail, credit adjustment (idempotency key shown), suspend and unsuspend.
    nav.get_by_role("link", name="Users").click()
    page.get_by_label("Search users").fill(customer)
    page.get_by_role("button", name="Search").click()
    shot(page, "admin-users")
    page.get_by_role("link", name=customer).click()
    expect(page.get_by_role("heading", name=customer)).to_be_visible()
    page.get_by_label("Credits (+ grant, − debit)").fill("50")
    page.get_by_label("Note").fill("Goodwill for a slow run")
    page.get_by_role("button", name="Apply adjustment").click()
    expect(page.get_by_text(re.compile(r"Adjusted\. New balance: [\d,]+ credits"))).to_be_visible()
    ledger = page.get_by_role("region", name="Ledger")
    expect(ledger.get_by_role("cell", name="+50")).to_be_visible()
    page.get_by_role("button", name="Suspend…").click()
    page.get_by_role("button", name="Confirm suspension").click()
    expect(page.get_by_role("button", name="Unsuspend")).to_be_visible()
    expect(page.get_by_text("suspended", exact=True).first).to_be_visible()
    shot(page, "admin-user-detail")
    page.get_by_role("button", name="Unsuspend").click()
    expect(page.get_by_role("button", name="Suspend…")).to_be_visible()

    # Jobs: filter by the customer, open one, read the raw request and response, refund.
    nav.get_by_role("link", name="Jobs").click()
    page.get_by_label("User email").fill(customer)
    page.get_by_role("button", name="Filter").click()
    shot(page, "admin-jobs")
    page.get_by_role("link", name="How efficient are heat pumps?").click()
    expect(page.get_by_role("heading", name="Raw request")).to_be_visible()
    expect(page.locator("pre.code").first).to_contain_text('"question": "How efficient are heat pumps?"')
    page.get_by_label("Credits to refund").fill("5")
    page.get_by_label("Note").fill("Answered the wrong question")
    page.get_by_role("button", name="Refund", exact=True).click()
    expect(page.get_by_text("Refund recorded in the user's ledger.")).to_be_visible()
    shot(page, "admin-job-detail")

    # Tickets: filter, open, reply by email, close and reopen.
    nav.get_by_role("link", name="Tickets").click()
    page.get_by_label("Status").select_option("open")
    page.get_by_label("Category").select_option("billing")
    shot(page, "admin-tickets")
    page.get_by_role("link", name="Refund please").first.click()
    expect(page.get_by_text("The last run answered the wrong question.")).to_be_visible()
    page.get_by_label("Message").fill("Refunded 5 credits. Sorry about that!")
    page.get_by_role("button", name="Send reply").click()
    expect(page.get_by_text("Refunded 5 credits. Sorry about that!")).to_be_visible()
    expect(page.get_by_text("emailed")).to_be_visible()
    page.get_by_role("button", name="Close ticket").click()
    expect(page.get_by_role("button", name="Reopen ticket")).to_be_visible()
    shot(page, "admin-ticket-detail")
    page.get_by_role("button", name="Reopen ticket").click()
    expect(page.get_by_role("button", name="Close ticket")).to_be_visible()

    # Stripe events: the customer's checkout events, replayed harmlessly.
    nav.get_by_role("link", name="Stripe events").click()
    expect(page.get_by_role("cell", name="checkout.session.completed").first).to_be_visible()
    page.get_by_role("button", name=re.compile("^Replay ")).first.click()
    expect(page.get_by_text("Replayed ✓")).to_be_visible()
    shot(page, "admin-stripe-events")

    assert console.errors == []
