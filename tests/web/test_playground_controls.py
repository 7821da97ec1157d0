"""The playground's research controls in headless Chromium against a real server: continue a
finished job with more budget (same job, events continued, charged the difference), and review
a job's plan before it searches (the edited queries are the ones searched)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from graph.modes import MODES
from tests.research.test_events_and_webhooks import parse_sse
from tests.web.conftest import log_in, shot, unique_email

pytestmark = pytest.mark.timeout(300)
QUESTION = "How do heat pumps work and how efficient are they?"


@pytest.fixture
def finished_lite_job(page, dashboard):
    """A verified user, signed in, with one finished lite job run through the API."""
    email = unique_email("controls")
    http = dashboard.create_verified_user(email)
    job = http.post("/api/playground/research", json={"question": QUESTION, "mode": "lite"})
    assert job.status_code == 200 and job.json()["stop_reason"] == "complete", job.text
    log_in(page, email)
    yield http, job.json()
    http.close()


def test_continue_a_finished_job_with_more_budget(page, finished_lite_job, console):
    http, job = finished_lite_job
    lite, standard = MODES["lite"].price_credits, MODES["standard"].price_credits
    page.goto(f"/playground?job={job['id']}")
    form = page.get_by_role("form", name="Continue with more budget")
    form.get_by_label("Continue as").select_option("standard")
    form.get_by_role("button", name=f"Continue with more budget · {standard - lite} credits more").click()

    timeline = page.locator("ol.timeline")
    expect(timeline.get_by_text(f"Continued in Standard · {standard - lite} more credits reserved")).to_be_visible()
    expect(timeline.get_by_text("Research complete")).to_have_count(2, timeout=120_000)
    expect(page.locator(".card-head .badge")).to_have_text("succeeded")
    expect(page.get_by_text(f"{standard} credits charged")).to_be_visible()
    expect(page.get_by_text("extended 1×")).to_be_visible()
    expect(page.get_by_text("Connection lost")).to_have_count(0)
    assert page.url.endswith(f"?job={job['id']}")  # the same job, continued
    assert http.get("/api/credits/balance").json()["credits"] == 100 - standard
    shot(page, "playground-extended")

    # Reopened, the job replays both runs and keeps its final result.
    page.reload()
    expect(timeline.get_by_text("Research complete")).to_have_count(2)
    expect(timeline.get_by_text("Continued in Standard", exact=False)).to_be_visible()
    expect(page.get_by_text(f"{standard} credits charged")).to_be_visible()
    assert console.errors == []


def test_source_policy_language_and_a_follow_up(page, finished_lite_job, console):
    http, job = finished_lite_job
    page.goto(f"/playground?job={job['id']}")
    page.get_by_role("button", name="Ask a follow-up").click()
    expect(page).to_have_url(re.compile(rf"follow_up={job['id']}"))
    expect(page.get_by_label("Question")).to_have_value("")
    page.get_by_label("Question").fill("And how do they compare with solar power?")
    page.get_by_text("Lite", exact=True).click()
    page.locator("summary", has_text="Sources").click()
    page.get_by_label("Only these sites").fill("bad_host!")
    page.get_by_label("Answer language").select_option("de")
    page.get_by_role("button", name=re.compile("Run research")).click()
    expect(page.locator(".panel .field-error")).to_contain_text("source_policy.include_domains[0]")
    assert console.errors == ["Failed to load resource: the server responded with a status of 400 (Bad Request)"]
    console.errors.clear()

    page.get_by_label("Only these sites").fill("")
    page.get_by_label("Never these sites").fill("example.com")
    page.get_by_label("Published on or before").fill("2030-01-01")
    expect(page.locator(".panel summary")).to_contain_text("Web · filtered")
    page.get_by_role("button", name=re.compile("Run research")).click()
    expect(page).not_to_have_url(re.compile(rf"job={job['id']}"))
    expect(page.get_by_text("Research complete")).to_be_visible(timeout=120_000)
    follow_up_id = re.search(r"job=([0-9a-f-]{36})", page.url).group(1)
    assert follow_up_id != job["id"]
    follow_up = http.get(f"/api/playground/research/{follow_up_id}").json()
    assert follow_up["previous_job_id"] == job["id"]
    assert follow_up["usage"].get("output_language_note")  # the offline reasoner says it kept the sources' language
    shot(page, "playground-follow-up")
    assert console.errors == []


def test_review_the_plan_then_search_the_edited_queries(page, dashboard, console):
    email = unique_email("plan")
    http = dashboard.create_verified_user(email)
    log_in(page, email)
    page.goto("/playground")
    page.get_by_label("Question").fill(QUESTION)
    page.get_by_text("Lite", exact=True).click()
    page.get_by_label("Review the plan before searching").check()
    page.get_by_role("button", name=re.compile("Run research")).click()

    review = page.get_by_role("form", name="Review the plan")
    expect(review).to_be_visible(timeout=120_000)
    job_id = re.search(r"job=([0-9a-f-]{36})", page.url).group(1)
    plan = http.get(f"/api/playground/research/{job_id}").json()["plan"]
    assert len(plan["queries"]) >= 2, plan
    expect(page.locator(".card-head .badge")).to_have_text("awaiting_approval")
    expect(review.get_by_text(plan["sub_questions"][0])).to_be_visible()
    expect(page.locator("ol.timeline").get_by_text("The plan waits for your approval")).to_be_visible()
    shot(page, "playground-plan-review")

    edited = "heat pump efficiency in cold climates"
    review.get_by_label("Query 1", exact=True).fill(edited)
    review.get_by_role("button", name="Remove query 2").click()
    approved = [edited, *plan["queries"][2:]]
    expect(review.get_by_role("textbox", name=re.compile(r"^Query \d+$"))).to_have_count(len(approved))
    review.get_by_role("button", name="Approve and search").click()

    timeline = page.locator("ol.timeline")
    expect(timeline.get_by_text(re.compile(r"Plan approved with \d+ quer"))).to_be_visible()
    expect(timeline.get_by_text("Research complete")).to_be_visible(timeout=120_000)
    expect(page.locator(".card-head .badge")).to_have_text("succeeded")
    expect(review).to_have_count(0)
    assert page.url.endswith(f"?job={job_id}")  # the same job, followed to its result

    events = parse_sse(http.get(f"/api/playground/research/{job_id}/events").text)
    assert [e["data"]["queries"] for e in events if e["type"] == "wave.started"] == [approved]
    assert sorted(e["data"]["query"] for e in events if e["type"] == "search") == sorted(approved)
    assert console.errors == []
