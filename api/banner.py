"""The one screen `infrence serve` prints at start: where everything is and which providers run.

A developer who just cloned the repository should learn from it where the dashboard is, where
mail goes without SMTP, and what research can answer here — without reading any log line.
"""

from __future__ import annotations

from pathlib import Path

from core.settings import Settings
from graph.context import BUILTIN_CORPUS
from graph.providers.extract import DOCUMENT_SUFFIXES


def corpus_documents(folder: Path) -> int:
    """How many files the local search would index in `folder`."""
    if not folder.is_dir():
        return 0
    return sum(1 for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in DOCUMENT_SUFFIXES)


def _reasoner(settings: Settings) -> str:
    if not settings.openai_api_key:
        return "offline extractive reasoner (set OPENAI_API_KEY for a model)"
    names = sorted(set(settings.models.values()))
    server = settings.openai_base_url or "OpenAI"
    return f"{', '.join(names)} at {server}"


def _search(settings: Settings) -> str:
    if settings.tavily_api_key:
        return f"Tavily web search{f' at {settings.tavily_api_base}' if settings.tavily_api_base else ''}"
    if settings.corpus_dir:
        folder = settings.corpus_dir.expanduser().resolve()
        return f"local corpus {folder} ({corpus_documents(folder)} documents)"
    count = corpus_documents(BUILTIN_CORPUS)
    return f"built-in sample corpus ({count} documents; set INFRENCE_CORPUS_DIR or TAVILY_API_KEY)"


def _mail(settings: Settings) -> str:
    delivery = settings.mail_delivery
    if delivery == "smtp":
        return f"SMTP {settings.smtp_host}:{settings.smtp_port}"
    if delivery == "console":
        return "printed here, links included (no SMTP_HOST; `infrence mail list` shows the outbox)"
    return "kept in the outbox table only (INFRENCE_MAIL=log; `infrence mail list`)"


def _payments(settings: Settings) -> str:
    key = settings.stripe_secret_key
    if not key:
        return "off (set STRIPE_SECRET_KEY to sell credits)"
    where = f" at {settings.stripe_api_base}" if settings.stripe_api_base else ""
    if key.startswith(("sk_live_", "rk_live_")):
        return f"Stripe LIVE mode{where}"
    return f"Stripe test mode{where}"


def startup_facts(settings: Settings, *, workers: int) -> list[tuple[str, str]]:
    url = settings.public_url.rstrip("/")
    storage = (
        "external PostgreSQL and Redis"
        if settings.database_url and settings.redis_url
        else f"{settings.resolved_data_dir} (embedded PostgreSQL and Redis)"
    )
    return [
        ("API", url),
        ("Dashboard", f"{url}/  (sign up there)"),
        ("API docs", f"{url}/docs  ·  {url}/redoc"),
        ("Data", storage),
        ("Reasoner", _reasoner(settings)),
        ("Search", _search(settings)),
        ("Mail", _mail(settings)),
        ("Payments", _payments(settings)),
        ("Workers", f"{workers} research worker{'s' if workers != 1 else ''}"),
    ]


def startup_banner(settings: Settings, *, workers: int) -> str:
    """One screen for a terminal."""
    rows = startup_facts(settings, workers=workers)
    rule = "─" * 72
    lines = [rule, f"  Infrence ({settings.env})", rule]
    lines += [f"  {name:<10} {value}" for name, value in rows]
    lines += [rule, "  Ctrl-C stops the server and the embedded databases.", ""]
    return "\n".join(lines)


def startup_line(settings: Settings, *, workers: int) -> str:
    """The same facts as one log line, for JSON logs."""
    return "serving: " + "; ".join(f"{k.lower()}: {v}" for k, v in startup_facts(settings, workers=workers))
