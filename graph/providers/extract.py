"""Main text of a document: HTML through trafilatura, PDF through pypdf, text formats as they are."""

from __future__ import annotations

import html as html_lib
import io
import re
from pathlib import Path

TEXT_SUFFIXES = {".md", ".markdown", ".txt", ".rst"}
HTML_SUFFIXES = {".html", ".htm"}
PDF_SUFFIXES = {".pdf"}
DOCUMENT_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | PDF_SUFFIXES

_TITLE_TAG = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_HEADING = re.compile(r"^\s*#\s+(.+?)\s*#*\s*$", re.MULTILINE)
_RST_TITLE = re.compile(r"^(.+)\n[=\-~^]{3,}\s*$", re.MULTILINE)


def html_text(markup: str) -> tuple[str, str]:
    """(title, main text) of an HTML page."""
    import trafilatura

    match = _TITLE_TAG.search(markup)
    title = " ".join(html_lib.unescape(match.group(1)).split()) if match else ""
    text = trafilatura.extract(markup, include_comments=False, include_tables=True, favor_recall=True) or ""
    return title, text


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
