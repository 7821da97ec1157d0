"""The Collections page in headless Chromium against a real server: create a collection, drop
files on it (one readable, one not), watch them get indexed, read the extracted text, delete a
document and the collection; an upload shows its progress; research restricted to the
collection cites it, and the citation opens the quoted text."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from tests.web.conftest import log_in, shot, unique_email

pytestmark = pytest.mark.timeout(300)

NOTE = (
    "# Field notes\n\nThe heron colony on the north shore counted 214 nests in April, "
    "up from 180 the year before. Wardens attribute the rise to the new reed beds.\n"
)

DROP_FILES = """([files, selector]) => {
    const transfer = new DataTransfer();
    for (const f of files) transfer.items.add(new File([f.text], f.name, {type: f.type}));
    const zone = document.querySelector(selector);
    for (const type of ["dragenter", "dragover", "drop"])
        zone.dispatchEvent(new DragEvent(type, {dataTransfer: transfer, bubbles: true, cancelable: true}));
}"""


@pytest.fixture
def signed_in(page, dashboard):
    email = unique_email("collections")
    http = dashboard.create_verified_user(email)
    log_in(page, email)
    yield http
    http.close()


def create_collection(page, name: str) -> str:
    page.get_by_role("link", name="Collections").click()
    expect(page.get_by_text("No collections yet")).to_be_visible()
    page.get_by_label("Name").fill(name)
    page.get_by_role("button", name="Create collection").click()
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    return page.url.rsplit("/", 1)[-1]


def test_drop_files_watch_them_index_read_and_delete(page, signed_in, console):
    collection = create_collection(page, "Field notes")
    expect(page.get_by_text("No documents yet")).to_be_visible()
    expect(page.get_by_text("up to 20 MB per file")).to_be_visible()

    page.evaluate(
        DROP_FILES,
        [
            [
                {"name": "herons.md", "type": "text/markdown", "text": NOTE},
                {"name": "scan.pdf", "type": "application/pdf", "text": "%PDF-1.4 this is not really a PDF"},
            ],
            "[data-testid=dropzone]",
        ],
    )
    documents = page.get_by_role("region", name="Documents")
    herons = documents.get_by_role("row").filter(has_text="herons.md")
    scan = documents.get_by_role("row").filter(has_text="scan.pdf")
    expect(herons.locator(".badge")).to_have_text("ready", timeout=60_000)
    expect(scan.locator(".badge")).to_have_text("failed", timeout=60_000)
    expect(scan.locator(".field-error")).not_to_be_empty()
    expect(page.get_by_text("2 documents")).to_be_visible()
    shot(page, "collection")

    # A file of a type we cannot read is refused at upload, beside its name.
    page.locator("input[type=file]").set_input_files(
        files=[{"name": "photo.png", "mimeType": "image/png", "buffer": b"\x89PNG\r\n"}]
    )
    uploads = page.get_by_role("list", name="Uploads")
    expect(uploads.get_by_role("alert")).to_contain_text("unsupported file type .png")
    page.get_by_role("button", name="Dismiss photo.png").click()
    expect(uploads).to_have_count(0)
    assert console.errors == [
        "Failed to load resource: the server responded with a status of 400 (Bad Request)"
    ]
    console.errors.clear()

    herons.get_by_role("link", name="herons.md").click()
    expect(page.get_by_role("heading", name="herons.md")).to_be_visible()
    expect(page.locator("pre.corpus-text")).to_contain_text("214 nests in April")
    expect(page.get_by_text(f"collection://{collection}/")).to_be_visible()
    page.get_by_role("link", name="← Collection").click()

    herons.get_by_role("button", name="Delete herons.md").click()
    herons.get_by_role("button", name="Confirm: delete herons.md").click()
    expect(herons).to_have_count(0)
    expect(page.get_by_text("1 document", exact=False)).to_be_visible()
    listed = signed_in.get(f"/api/collections/{collection}/documents").json()
    assert [d["filename"] for d in listed] == ["scan.pdf"]

    page.get_by_role("button", name="Delete collection Field notes").click()
    page.get_by_role("button", name="Confirm: delete collection Field notes").click()
    expect(page).to_have_url(re.compile(r"/collections$"))
    expect(page.get_by_text("No collections yet")).to_be_visible()
    assert signed_in.get(f"/api/collections/{collection}").status_code == 404
    assert console.errors == []


def test_an_upload_shows_its_progress(page, signed_in, console):
    """Throttled to 256 KB/s, a 1.5 MB file takes seconds: the bar moves, then the file is listed."""
    create_collection(page, "Big files")
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 256 * 1024},
    )
    body = ("Reed beds filter the water. " * 60_000).encode()[:1_500_000]
    page.locator("input[type=file]").set_input_files(
        files=[{"name": "reeds.txt", "mimeType": "text/plain", "buffer": body}]
    )
    bar = page.get_by_role("progressbar", name="Uploading reeds.txt")
    expect(bar).to_be_visible()
    page.wait_for_function(
        "() => { const p = document.querySelector('.upload progress'); return p && p.value > 0 && p.value < p.max; }",
        timeout=30_000,
    )
    shot(page, "collection-uploading")
    expect(bar).to_have_count(0, timeout=120_000)
    row = page.get_by_role("region", name="Documents").get_by_role("row").filter(has_text="reeds.txt")
    expect(row.locator(".badge")).to_have_text("ready", timeout=60_000)
    expect(row).to_contain_text("1.4 MB")
    assert console.errors == []


def wait_ready(http, collection: str, document: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = http.get(f"/api/collections/{collection}/documents/{document}").json()["status"]
        if status != "processing":
            assert status == "ready"
            return
        time.sleep(0.3)
    raise AssertionError("the document was not indexed in 60 s")


def test_research_over_a_collection_cites_it_and_opens_the_quoted_text(page, signed_in, console):
    collection = signed_in.post("/api/collections", json={"name": "Field notes"}).json()["id"]
    upload = signed_in.post(f"/api/collections/{collection}/documents", files={"file": ("herons.md", NOTE, "text/markdown")})
    assert upload.status_code == 202, upload.text
    wait_ready(signed_in, collection, upload.json()["id"])

    page.get_by_role("link", name="Playground").click()
    page.get_by_label("Question").fill("How many heron nests did the wardens count on the north shore?")
    page.get_by_text("Lite", exact=True).click()
    page.locator("summary", has_text="Sources").click()
    page.get_by_label("Search the web").uncheck()
    expect(page.locator(".panel summary")).to_contain_text("Nothing to search")
    page.get_by_role("button", name=re.compile("Run research")).click()
    expect(page.locator(".panel .field-error")).to_have_text(re.compile("needs at least one of your collections"))
    assert console.errors == ["Failed to load resource: the server responded with a status of 400 (Bad Request)"]
    console.errors.clear()

    page.get_by_label("Field notes").check()
    expect(page.locator(".panel summary")).to_contain_text("1 collection only")
    page.get_by_role("button", name=re.compile("Run research")).click()
    expect(page.get_by_text("Research complete")).to_be_visible(timeout=120_000)
    cited = page.locator(".result-sources a.source-title")
    expect(cited.first).to_have_attribute("href", re.compile(rf"^/collections/{collection}/documents/"))
    expect(cited).to_have_count(1)  # the collection's one document; no web (or server corpus) source
    shot(page, "playground-collection")

    with page.context.expect_page() as opened:
        cited.first.click()
    document = opened.value
    expect(document.get_by_role("heading", name="herons.md")).to_be_visible()
    expect(document.locator("pre.corpus-text mark")).to_contain_text("214 nests in April")
    document.close()
    assert console.errors == []
