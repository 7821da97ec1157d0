"""Plain text from an uploaded file (PDF, HTML, Markdown, plain text, DOCX), and its chunks.

The text stored here is what quotes are exact slices of, so it is kept as extracted: no
Markdown is added, and chunks are character ranges of it.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import PurePath
from xml.etree import ElementTree

MAX_TEXT_CHARS = 2_000_000  # per document: what one source may put in front of the reasoner
CHUNK_CHARS = 1200

FORMATS = {
    ".pdf": "application/pdf",
    ".html": "text/html",
    ".htm": "text/html",
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".txt": "text/plain",
    ".text": "text/plain",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
_WORD = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


class UnreadableDocument(ValueError):
    """The file could not be turned into text; the message is shown to its owner."""


@dataclass(frozen=True)
class Chunk:
    seq: int
    start: int
    end: int
    content: str


def content_type_for(filename: str, declared: str | None) -> str:
    """The format we will parse, from the extension (the declared type only breaks ties)."""
    suffix = PurePath(filename).suffix.lower()
    if suffix in FORMATS:
        return FORMATS[suffix]
    if declared in FORMATS.values():
        return declared
    allowed = ", ".join(sorted(FORMATS))
    raise UnreadableDocument(f"unsupported file type {suffix or '(none)'}: use one of {allowed}")


def extract_text(data: bytes, content_type: str, *, max_pdf_pages: int) -> str:
    if content_type == "application/pdf":
        text = _pdf(data, max_pdf_pages)
    elif content_type == "text/html":
        text = _html(data)
    elif content_type.endswith("wordprocessingml.document"):
        text = _docx(data)
    else:
        text = _decode(data)
    text = text.replace("\r\n", "\n").strip()
    if not text:
        raise UnreadableDocument("no text found in the file")
    return text[:MAX_TEXT_CHARS]


def chunks_of(text: str, size: int = CHUNK_CHARS) -> list[Chunk]:
    """Consecutive ranges of about `size` characters, cut at paragraph or sentence ends."""
    chunks: list[Chunk] = []
    start = 0
    while start < len(text):
        end = min(len(text), start + size)
        if end < len(text):
            window = text[start:end]
            cut = max(window.rfind("\n\n"), window.rfind(". "))
            if cut > size // 3:
                end = start + cut + 1
        piece = text[start:end]
        if piece.strip():
            chunks.append(Chunk(len(chunks), start, end, piece))
        start = end
    return chunks


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _pdf(data: bytes, max_pages: int) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if len(reader.pages) > max_pages:
            raise UnreadableDocument(f"the PDF has {len(reader.pages)} pages; at most {max_pages} are read")
        return "\n\n".join((page.extract_text() or "").strip() for page in reader.pages)
    except (PdfReadError, ValueError, KeyError) as exc:
        if isinstance(exc, UnreadableDocument):
            raise
        raise UnreadableDocument(f"not a readable PDF ({type(exc).__name__})") from None


def _html(data: bytes) -> str:
    import trafilatura

    text = trafilatura.extract(
        _decode(data),
        output_format="txt",
        include_comments=False,
        include_formatting=False,
        favor_recall=True,
    )
    if not text:
        # Pages trafilatura judges to have no main content: fall back to every text node.
        text = re.sub(r"\s+\n|\n\s+", "\n", re.sub(r"<[^>]+>", " ", _decode(data)))
    return text


def _docx(data: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            info = archive.getinfo("word/document.xml")
            if info.file_size > 50 * 1024 * 1024:
                raise UnreadableDocument("the DOCX's text part is too large")
            root = ElementTree.fromstring(archive.read(info))
    except (zipfile.BadZipFile, KeyError, ElementTree.ParseError):
        raise UnreadableDocument("not a readable DOCX file") from None
    paragraphs = ("".join(node.text or "" for node in p.iter(f"{_WORD}t")) for p in root.iter(f"{_WORD}p"))
    return "\n\n".join(p for p in paragraphs if p.strip())
