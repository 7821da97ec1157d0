"""Eval datasets (JSONL questions with gold facts) and corpora (a directory of documents as text).

The loaders are strict on purpose: a typo in a dataset silently changes what the gates measure,
so every malformed line fails with `file:line: what is wrong`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

EVALS_DIR = Path(__file__).resolve().parent
DEFAULT_DATASET = EVALS_DIR / "datasets" / "default.jsonl"
DEFAULT_CORPUS = EVALS_DIR / "corpus"
# The offline search/fetch fakes serve corpus documents under this origin, so citations can be
# traced back to a corpus file by URL.
DEFAULT_CORPUS_BASE_URL = "https://corpus.infrence.test/"

DATASET_MODES = ("lite", "standard", "pro", "max")
QUESTION_KINDS = ("single_hop", "multi_hop", "comparison", "numeric", "typed", "unanswerable")
CORPUS_FORMATS = {
    ".md": "md",
    ".markdown": "md",
    ".html": "html",
    ".htm": "html",
    ".txt": "txt",
    ".rst": "rst",
    ".pdf": "pdf",
}

_REQUIRED_KEYS = ("id", "question", "mode")
_OPTIONAL_KEYS = (
    "facts",
    "kind",
    "answerable",
    "response_schema",
    "expected",
    "gold_sources",
    "computed",
    "notes",
)


class DatasetError(ValueError):
    """A dataset line that cannot be used; the message starts with `file:line:`."""


class CorpusError(ValueError):
    """A corpus directory or document that cannot be read."""


@dataclass(frozen=True)
class EvalItem:
    """One question. `facts` is a list of facts, each a tuple of accepted variants."""

    id: str
    question: str
    mode: str
    facts: tuple[tuple[str, ...], ...] = ()
    kind: str = "single_hop"
    answerable: bool = True
    response_schema: dict[str, Any] | None = None
    # Dotted paths into `typed` ("rated_mw", "turbines.0.name") -> accepted value(s); see metrics.
    expected: dict[str, Any] | None = None
    # Corpus-relative paths of the documents that hold the answer (for humans and corpus checks).
    gold_sources: tuple[str, ...] = ()
    # True when a fact is derived (a sum, a difference), so it need not appear verbatim in the corpus.
    computed: bool = False
    notes: str | None = None
    origin: str = field(default="", compare=False)  # "file:line", for messages


def load_dataset(path: str | Path = DEFAULT_DATASET) -> list[EvalItem]:
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read dataset: {exc.strerror or exc}") from exc
    items: list[EvalItem] = []
    seen: dict[str, str] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        origin = f"{path}:{number}"
        item = parse_item(line, origin)
        if item.id in seen:
            raise DatasetError(f"{origin}: duplicate id {item.id!r} (first defined at {seen[item.id]})")
        seen[item.id] = origin
        items.append(item)
    if not items:
        raise DatasetError(f"{path}: dataset has no questions")
    return items


def parse_item(line: str, origin: str) -> EvalItem:
    """Parse one JSONL line; `origin` ("file:line") prefixes every error."""

    def fail(message: str) -> DatasetError:
        return DatasetError(f"{origin}: {message}")

    try:
        raw = json.loads(line)
    except json.JSONDecodeError as exc:
        raise fail(f"invalid JSON: {exc.msg} (column {exc.colno})") from None
    if not isinstance(raw, dict):
        raise fail(f"expected a JSON object, got {type(raw).__name__}")
    missing = [key for key in _REQUIRED_KEYS if key not in raw]
    if missing:
        raise fail(f"missing required field(s): {', '.join(missing)}")
    unknown = sorted(set(raw) - set(_REQUIRED_KEYS) - set(_OPTIONAL_KEYS))
    if unknown:
        raise fail(f"unknown field(s): {', '.join(unknown)}")
    for key in ("id", "question"):
        if not isinstance(raw[key], str) or not raw[key].strip():
            raise fail(f"{key!r} must be a non-empty string")
    if raw["mode"] not in DATASET_MODES:
        raise fail(f"'mode' must be one of {', '.join(DATASET_MODES)}; got {raw['mode']!r}")
    kind = raw.get("kind", "single_hop")
    if kind not in QUESTION_KINDS:
        raise fail(f"'kind' must be one of {', '.join(QUESTION_KINDS)}; got {kind!r}")
    answerable = raw.get("answerable", True)
    if not isinstance(answerable, bool):
        raise fail("'answerable' must be true or false")
    facts = _parse_facts(raw.get("facts", []), fail)
    schema = raw.get("response_schema")
    if schema is not None:
        if not isinstance(schema, dict):
            raise fail("'response_schema' must be a JSON object")
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as exc:
            raise fail(f"'response_schema' is not a valid JSON Schema (2020-12): {exc.message}") from None
    expected = raw.get("expected")
    if expected is not None:
        if schema is None:
            raise fail("'expected' needs a 'response_schema' to check against")
        if not isinstance(expected, dict) or not expected:
            raise fail("'expected' must be a non-empty object of dotted field path -> value(s)")
    if answerable and not facts and expected is None:
        raise fail("an answerable question needs 'facts' or 'expected'")
    gold_sources = raw.get("gold_sources", [])
    if not isinstance(gold_sources, list) or not all(isinstance(s, str) and s for s in gold_sources):
        raise fail("'gold_sources' must be a list of corpus-relative paths")
    computed = raw.get("computed", False)
    if not isinstance(computed, bool):
        raise fail("'computed' must be true or false")
    notes = raw.get("notes")
    if notes is not None and not isinstance(notes, str):
        raise fail("'notes' must be a string")
    return EvalItem(
        id=raw["id"],
        question=raw["question"],
        mode=raw["mode"],
        facts=facts,
        kind=kind,
        answerable=answerable,
        response_schema=schema,
        expected=expected,
        gold_sources=tuple(gold_sources),
        computed=computed,
        notes=notes,
        origin=origin,
    )


def _parse_facts(value: Any, fail) -> tuple[tuple[str, ...], ...]:
    if not isinstance(value, list):
        raise fail("'facts' must be a list; each fact a list of accepted variants, e.g. [[\"1998\"]]")
    facts = []
    for index, fact in enumerate(value):
        variants = [fact] if isinstance(fact, str) else fact
        if (
            not isinstance(variants, list)
            or not variants
            or not all(isinstance(v, str) and v.strip() for v in variants)
        ):
            raise fail(f"facts[{index}] must be a non-empty list of non-empty strings")
        facts.append(tuple(variants))
    return tuple(facts)


# --- corpus -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Document:
    path: str  # corpus-relative, POSIX separators
    url: str
    title: str
    format: str  # md | html | txt | rst | pdf
    text: str  # plain text: what search results and page fetches would show, and what quotes are checked in

    @property
    def word_count(self) -> int:
        return len(self.text.split())


@dataclass(frozen=True)
class Corpus:
    root: Path
    documents: tuple[Document, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_url", {normalise_url(d.url): d for d in self.documents})
        object.__setattr__(self, "_by_path", {d.path: d for d in self.documents})

    def by_url(self, url: str) -> Document | None:
        return self._by_url.get(normalise_url(url))

    def by_path(self, path: str) -> Document | None:
        return self._by_path.get(path)

    def texts_by_url(self) -> dict[str, str]:
        """The `source_texts` mapping the metrics take."""
        return {d.url: d.text for d in self.documents}

    def __len__(self) -> int:
        return len(self.documents)

    def __iter__(self):
        return iter(self.documents)


def load_corpus(directory: str | Path = DEFAULT_CORPUS, *, base_url: str = DEFAULT_CORPUS_BASE_URL) -> Corpus:
    """Every md/html/txt/rst/pdf file under `directory` (recursively), as plain text, sorted by path."""
    root = Path(directory)
    if not root.is_dir():
        raise CorpusError(f"{root}: corpus directory does not exist")
    base = base_url if base_url.endswith("/") else base_url + "/"
    documents = []
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        fmt = CORPUS_FORMATS.get(file.suffix.lower())
        if fmt is None or any(part.startswith((".", "_")) for part in file.relative_to(root).parts):
            continue
        relative = file.relative_to(root).as_posix()
        title, text = _read_document(file, fmt)
        documents.append(Document(path=relative, url=base + relative, title=title, format=fmt, text=text))
    if not documents:
        raise CorpusError(f"{root}: no md/html/txt/rst/pdf documents found")
    return Corpus(root=root, documents=tuple(documents))


def _read_document(file: Path, fmt: str) -> tuple[str, str]:
    try:
        if fmt == "pdf":
            return _pdf_to_text(file)
        raw = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CorpusError(f"{file}: cannot read document: {exc}") from exc
    if fmt == "html":
        return html_to_text(raw)
    text = markdown_to_text(raw) if fmt == "md" else raw.strip()
    return _first_line(text) or file.stem, text


def original_text(file: Path) -> str:
    """The document as its reader sees it, independent of the graph's extractor: an HTML file's
    visible text (this module's own lossless parser), a text file as written, a PDF's text. Quotes
    are checked against this, so one the extractor altered (added Markdown, say) fails."""
    fmt = CORPUS_FORMATS.get(file.suffix.lower())
    if fmt == "pdf":
        return _pdf_to_text(file)[1]
    raw = file.read_text(encoding="utf-8", errors="replace")
    return html_to_text(raw)[1] if fmt == "html" else raw


def _pdf_to_text(file: Path) -> tuple[str, str]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(file)
        text = "\n".join((page.extract_text() or "") for page in reader.pages).strip()
        title = (reader.metadata.title if reader.metadata else None) or _first_line(text) or file.stem
    except PdfReadError as exc:
        raise CorpusError(f"{file}: cannot read PDF: {exc}") from exc
    return str(title), text


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MD_EMPHASIS = re.compile(r"(\*\*|__|\*|`)")
_MD_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")


def markdown_to_text(markdown: str) -> str:
    """Light Markdown stripping: headings, emphasis, links and table rules go; words stay verbatim."""
    lines = []
    for line in markdown.splitlines():
        if _MD_TABLE_RULE.match(line):
            continue
        line = re.sub(r"^\s{0,3}#{1,6}\s+", "", line)
        line = _MD_LINK.sub(r"\1", line)
        line = _MD_EMPHASIS.sub("", line)
        if line.lstrip().startswith("|"):
            line = " | ".join(cell.strip() for cell in line.strip().strip("|").split("|"))
        lines.append(line.rstrip())
    return "\n".join(lines).strip()


class _HtmlText(HTMLParser):
    _SKIP = frozenset({"script", "style", "head", "noscript", "template"})
    _BLOCK = frozenset(
        {
            "p",
            "div",
            "h1",
            "h2",
            "h3",
            "h4",
            "h5",
            "h6",
            "li",
            "tr",
            "br",
            "table",
            "ul",
            "ol",
            "article",
            "section",
            "header",
            "footer",
            "main",
            "nav",
            "blockquote",
            "pre",
            "dt",
            "dd",
        }
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title_parts: list[str] = []
        self._skip_depth = 0
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        if tag == "title":
            self._in_title = True
        elif tag in self._SKIP:
            self._skip_depth += 1
        elif tag in self._BLOCK:
            self.parts.append("\n")
        elif tag in ("td", "th"):
            self.parts.append(" ")

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False
        elif tag in self._SKIP:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data):
        if self._in_title:
            self.title_parts.append(data)
        elif not self._skip_depth:
            self.parts.append(data)


def html_to_text(html: str) -> tuple[str, str]:
    """(title, visible text). A plain, lossless extractor: quotes must be checkable against every
    paragraph, so nothing is dropped the way boilerplate removers (trafilatura) may drop it."""
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.parts).splitlines()]
    text = "\n".join(line for line in lines if line)
    title = " ".join("".join(parser.title_parts).split())
    return title or _first_line(text), text


def normalise_url(url: str) -> str:
    """Scheme/host lower-cased, fragment and trailing slash dropped: how citations are matched to sources."""
    parts = urlsplit(url.strip())
    path = parts.path.rstrip("/") or "/"
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, parts.query, ""))


def source_texts(
    *mappings: Mapping[str, str] | Corpus, extra: Iterable[tuple[str, str]] = ()
) -> dict[str, str]:
    """Merge corpora and url->text mappings (e.g. pages fetched live) into one `source_texts` dict."""
    merged: dict[str, str] = {}
    for mapping in mappings:
        items = mapping.texts_by_url().items() if isinstance(mapping, Corpus) else mapping.items()
        merged.update({normalise_url(url): text for url, text in items})
    merged.update({normalise_url(url): text for url, text in extra})
    return merged
