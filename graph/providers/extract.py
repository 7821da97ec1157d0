"""Main text of a document as its reader sees it: the visible text of HTML (no Markdown added),
PDF text through pypdf, text formats as they are.

Quotes are exact slices of this text, so it must be text the source itself shows: an extractor
that adds list markers, emphasis or table pipes would make every quote a fabrication.
"""

from __future__ import annotations

import html as html_lib
import io
import re
from html.parser import HTMLParser
from pathlib import Path

TEXT_SUFFIXES = {".md", ".markdown", ".txt", ".rst"}
HTML_SUFFIXES = {".html", ".htm"}
PDF_SUFFIXES = {".pdf"}
DOCUMENT_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | PDF_SUFFIXES

_TITLE_TAG = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_HEADING = re.compile(r"^\s*#\s+(.+?)\s*#*\s*$", re.MULTILINE)
_RST_TITLE = re.compile(r"^(.+)\n[=\-~^]{3,}\s*$", re.MULTILINE)


class VisibleText(HTMLParser):
    """The text a browser shows, one block per paragraph (blank line between blocks).

    Invisible elements (scripts, styles, the head) and navigation chrome (nav, header, footer,
    aside, elements whose class or role names navigation) are left out; whitespace collapses as a
    browser collapses it, except inside `pre`.
    """

    HIDDEN = frozenset(
        {"script", "style", "head", "noscript", "template", "svg", "iframe", "object", "title"}
    )
    CHROME = frozenset({"nav", "header", "footer", "aside"})
    VOID = frozenset(
        {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
    )
    BLOCK = frozenset(
        {
            "address", "article", "blockquote", "caption", "dd", "details", "dialog", "div", "dl", "dt",
            "fieldset", "figcaption", "figure", "form", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "li",
            "main", "ol", "p", "pre", "section", "summary", "table", "tbody", "td", "tfoot", "th", "thead",
            "tr", "ul", "body", "html",
        }
    )  # fmt: skip
    _NAV_CLASS = re.compile(r"(?:^|[\s_-])(?:nav\w*|navigation|breadcrumbs?|skip-?link)(?:$|[\s_-])", re.I)

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[str] = []
        self.current: list[str] = []
        self.stack: list[tuple[str, bool]] = []  # (tag, hides its content)
        self.pre = 0

    def hidden(self) -> bool:
        return any(hides for _, hides in self.stack)

    def handle_starttag(self, tag, attrs):
        if tag == "br":
            self.current.append("\n")
            return
        if tag in self.BLOCK:
            self.flush()
        if tag in self.VOID:
            return
        attributes = dict(attrs)
        hides = (
            tag in self.HIDDEN
            or tag in self.CHROME
            or attributes.get("role") == "navigation"
            or "hidden" in attributes
            or bool(self._NAV_CLASS.search(attributes.get("class") or ""))
        )
        self.stack.append((tag, hides))
        if tag == "pre":
            self.pre += 1

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in self.VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag):
        if tag in self.BLOCK:
            self.flush()
        for depth in range(len(self.stack) - 1, -1, -1):
            if self.stack[depth][0] == tag:
                for closed, _ in self.stack[depth:]:
                    if closed == "pre":
                        self.pre -= 1
                del self.stack[depth:]
                break

    def handle_data(self, data):
        if self.hidden():
            return
        self.current.append(data if self.pre else re.sub(r"\s+", " ", data))

    def flush(self) -> None:
        if self.hidden():
            self.current = []
            return
        text = "".join(self.current)
        self.current = []
        lines = [line.strip() if not self.pre else line.rstrip() for line in text.split("\n")]
        block = "\n".join(line for line in lines if line.strip())
        if block:
            self.blocks.append(block)

    def text(self) -> str:
        self.flush()
        return "\n\n".join(self.blocks)


def visible_text(markup: str) -> str:
    parser = VisibleText()
    parser.feed(markup)
    parser.close()
    return parser.text()


def html_text(markup: str) -> tuple[str, str]:
    """(title, visible text) of an HTML page."""
    match = _TITLE_TAG.search(markup)
    title = " ".join(html_lib.unescape(match.group(1)).split()) if match else ""
    return title, visible_text(markup)


def pdf_text(data: bytes) -> tuple[str, str]:
    """(title, text) of a PDF."""
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    title = ""
    if reader.metadata and reader.metadata.title:
        title = str(reader.metadata.title)
    text = "\n\n".join((page.extract_text() or "").strip() for page in reader.pages)
    return title, text


def plain_title(text: str) -> str:
    """A Markdown `# heading`, an underlined reST title, or a short first line."""
    match = _HEADING.search(text) or _RST_TITLE.search(text)
    if match:
        return match.group(1).strip()
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return first if len(first) <= 100 and first[-1:] not in ".!?" else ""


def document_text(path: Path) -> tuple[str, str]:
    """(title, main text) of a file in a corpus; the title falls back to the file name."""
    suffix = path.suffix.lower()
    if suffix in PDF_SUFFIXES:
        title, text = pdf_text(path.read_bytes())
    elif suffix in HTML_SUFFIXES:
        title, text = html_text(path.read_text(encoding="utf-8", errors="replace"))
    else:
        text = path.read_text(encoding="utf-8", errors="replace")
        title = plain_title(text)
    return title or path.stem.replace("-", " ").replace("_", " "), text
