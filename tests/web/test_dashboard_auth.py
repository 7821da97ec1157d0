"""Sessions in the browser: the refresh cookie survives a reload (rotated), a 401 is refreshed
once, logout ends the session, the reset link works, server field errors show inline, and
every page fits a 375 px screen and works from the keyboard."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import expect

from tests.web.conftest import PASSWORD, log_in, new_page, shot, unique_email

pytestmark = pytest.mark.timeout(180)

USER_PAGES = ["/", "/playground", "/keys", "/logs", "/billing", "/settings", "/support"]


def refresh_cookie(page) -> dict | None:
    return next((c for c in page.context.cookies() if c["name"] == "infrence_refresh"), None)


def nothing_of_the_session_in_storage(page) -> bool:
    """No token a script could read: localStorage and sessionStorage hold none, and the
    refresh cookie is not in document.cookie."""
    return page.evaluate(
        """() => !JSON.stringify({...localStorage, ...sessionStorage}).match(/token/i)
                && !document.cookie.includes('infrence_refresh')"""
    )


def test_a_reload_rotates_the_refresh_cookie_and_logout_ends_the_session(page, dashboard, console):
    email = unique_email("session")
    dashboard.create_verified_user(email)
    log_in(page, email)
    expect(page.get_by_role("heading", name="Hello, Grace")).to_be_visible()
    first = refresh_cookie(page)
    assert first["httpOnly"] and first["secure"] and first["sameSite"] == "Strict"
    assert first["path"] == "/api/auth/refresh"
    assert nothing_of_the_session_in_storage(page)

    page.reload()
    expect(page.get_by_role("heading", name="Hello, Grace")).to_be_visible()
    second = refresh_cookie(page)["value"]
    assert second != first["value"]
    assert nothing_of_the_session_in_storage(page)

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    for _ in range(100):  # the logout request finishes after the page has moved on
        if refresh_cookie(page) is None:
            break
        page.wait_for_timeout(100)
    assert refresh_cookie(page) is None
    assert httpx.post(f"{dashboard.url}/api/auth/refresh", json={"refresh_token": second}).status_code == 401
    page.goto("/billing")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fbilling$"))
    assert console.errors == []


def test_an_expired_access_token_is_refreshed_once_and_the_request_retried(page, dashboard, console):
    email = unique_email("expired")
    dashboard.create_verified_user(email)
    log_in(page, email)
    expect(page.get_by_role("heading", name="Hello, Grace")).to_be_visible()
    answered = []

    def expire_first_call(route):
        if not answered:
            answered.append(route.request.headers.get("authorization"))
            route.fulfill(
                status=401,
                content_type="application/json",
                body='{"detail": "Token expired", "code": "unauthorized"}',
            )
        else:
            answered.append(route.request.headers.get("authorization"))
            route.continue_()

    page.route("**/api/keys", expire_first_call)
    page.get_by_role("link", name="API keys").click()
    expect(page.get_by_text("No API keys yet")).to_be_visible()
    assert len(answered) == 2 and answered[0] != answered[1]
    assert [e for e in console.errors if "401" not in e] == []


def test_a_forgotten_password_is_reset_from_the_emailed_link(page, dashboard, console):
    email = unique_email("forgot")
    dashboard.create_verified_user(email)
    page.goto("/login")
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Send reset link").click()
    expect(page.get_by_text("Check your inbox")).to_be_visible()
    shot(page, "forgot-password")

    page.goto(dashboard.mail_link(email, "reset"))
    expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    page.get_by_label("New password", exact=True).fill("another long password 77")
    page.get_by_label("Confirm new password").fill("another long password 78")
    page.get_by_role("button", name="Set new password").click()
    expect(page.get_by_text("The passwords do not match")).to_be_visible()
    page.get_by_label("Confirm new password").fill("another long password 77")
    shot(page, "reset-password")
    page.get_by_role("button", name="Set new password").click()
    expect(page.get_by_text("Password changed")).to_be_visible()
    log_in(page, email, "another long password 77")
    expect(page.get_by_role("heading", name="Hello, Grace")).to_be_visible()
    assert console.errors == []


def test_server_field_errors_are_shown_next_to_their_fields(page, dashboard):
    page.goto("/signup")
    page.get_by_label("Email").fill(unique_email("weak"))
    page.get_by_label("Password").fill("short")
    page.get_by_role("button", name="Create account").click()
    password = page.get_by_label("Password")
    expect(password).to_have_attribute("aria-invalid", "true")
    error_id = password.get_attribute("aria-describedby")
    expect(page.locator(f'[id="{error_id}"]')).to_have_text(re.compile(r"\w"))
    shot(page, "signup-errors")


def test_every_user_page_fits_a_phone_and_the_menu_works_from_the_keyboard(browser, dashboard, console):
    email = unique_email("phone")
    dashboard.create_verified_user(email)
    page = new_page(browser, dashboard, console, width=375)
    try:
        log_in(page, email)
        for path in USER_PAGES:
            page.goto(path)
            page.locator("main h1").first.wait_for()
            page.wait_for_load_state("networkidle")
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 375, f"{path} is {width}px wide at 375px"
            shot(page, "phone-" + (path.strip("/") or "overview"))

        menu = page.get_by_role("button", name="Menu")
        menu.focus()
        page.keyboard.press("Enter")
        expect(menu).to_have_attribute("aria-expanded", "true")
        billing = page.get_by_role("navigation", name="Main").get_by_role("link", name="Billing")
        billing.focus()
        page.keyboard.press("Enter")
        expect(page).to_have_url(re.compile(r"/billing$"))
        expect(menu).to_have_attribute("aria-expanded", "false")
        assert console.errors == []
    finally:
        page.context.close()
