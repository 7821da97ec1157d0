"""The `infrence` command line: serve, worker, migrate, admin, openapi (and research, eval, ledger)."""

from __future__ import annotations

import json
import logging
import re
import sys
import warnings
from pathlib import Path

import typer

from core.logging import configure_logging, log_format_for
from core.settings import Settings, SettingsError, load_settings

warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="Infrence: a Deep Research API.", rich_markup_mode=None
)
admin_app = typer.Typer(no_args_is_help=True, help="Operator commands.", rich_markup_mode=None)
app.add_typer(admin_app, name="admin")


def fail(message: str, code: int = 1) -> None:
    """One clear line on stderr and a non-zero exit, never a traceback."""
    typer.echo(f"infrence: {message}", err=True)
    raise typer.Exit(code)


def settings_or_exit() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        fail(str(exc), code=2)
        raise  # unreachable


def migrated_database_url(settings: Settings) -> str:
    """Start or join storage, then apply pending migrations; exit cleanly when PostgreSQL is down."""
    import psycopg

    from core.migrate import apply_migrations
    from core.storage import resolve_storage

    try:
        urls = resolve_storage(settings)
        apply_migrations(urls.database_url)
    except psycopg.OperationalError as exc:
        fail(f"cannot connect to PostgreSQL: {str(exc).splitlines()[0]}")
    except Exception as exc:  # embedded servers failing to start
        fail(f"cannot start storage: {type(exc).__name__}: {exc}")
    return urls.database_url


def exit_normally_on_sigterm() -> None:
    """Turn SIGTERM into a normal exit so atexit hooks run and the embedded servers stop
    (uvicorn re-raises the signal after its graceful shutdown; the default action would
    kill the process before they run)."""
    import signal

    def _exit(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _exit)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to bind."),
    port: int = typer.Option(8000, help="TCP port."),
    workers: int = typer.Option(2, min=0, help="Research worker processes, supervised by this one."),
    http_workers: int = typer.Option(
        1, min=1, help="HTTP processes sharing the port (uvicorn workers), supervised by this one."
    ),
) -> None:
    """Run the API (migrating first) with N research worker child processes."""
    import uvicorn

    from api.app import create_app
    from api.banner import startup_banner, startup_line
    from api.runtime import background_services_for
    from api.spa import build_if_missing

    exit_normally_on_sigterm()
    settings = settings_or_exit()
    if "public_url" not in settings.model_fields_set:  # links in mail must reach this server
        shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        settings = settings.model_copy(update={"public_url": f"http://{shown_host}:{port}"})
    configure_logging(fmt=settings.log_format)
    database_url = migrated_database_url(settings)
    build_if_missing()
    if log_format_for(configured=settings.log_format) == "text":
        typer.echo(startup_banner(settings, workers=workers))
    else:
        logging.getLogger("api.cli").info(startup_line(settings, workers=workers))
    # log_config=None: uvicorn's loggers keep ours (JSON, secrets redacted from access lines).
    options = {"host": host, "port": port, "log_level": "info", "proxy_headers": True, "log_config": None}
    if http_workers > 1:
        serve_http_processes(settings, database_url, workers, http_workers, options)
        return
    application = create_app(
        settings, background_services=background_services_for(settings, workers, processes=True)
    )
    freeze_startup_heap()
    uvicorn.run(application, **options)


HTTP_PROCESS_HEALTHCHECK_SECS = 60


def serve_http_processes(
    settings: Settings, database_url: str, workers: int, http_workers: int, options: dict
) -> None:
    """`serve --http-workers N`: uvicorn's process manager runs N HTTP processes on one socket
    (each builds the app from the environment: `http_process_app`), while this process keeps
    supervising the research workers from a thread, so there are N API processes and still
    exactly `workers` research workers."""
    import asyncio
    import os
    import threading

    import uvicorn

    from api.supervisor import WorkerSupervisor
    from core.storage import resolve_storage

    os.environ.update(
        {
            **settings.as_environment(),
            "DATABASE_URL": database_url,
            "REDIS_URL": resolve_storage(settings).redis_url,
        }
    )
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    supervising = threading.Thread(
        target=loop.run_until_complete,
        args=(WorkerSupervisor(settings, workers).run(stop),),
        name="worker-supervisor",
        daemon=True,
    )
    supervising.start()
    try:
        uvicorn.run(
            "api.cli:http_process_app",
            factory=True,
            workers=http_workers,
            # uvicorn's default (5 s) restarts a process still importing on a busy machine, forever
            timeout_worker_healthcheck=HTTP_PROCESS_HEALTHCHECK_SECS,
            **options,
        )
    finally:
        loop.call_soon_threadsafe(stop.set)  # drain the research workers
        supervising.join(timeout=60)


def http_process_app():
    """The app of one `serve --http-workers` process: its settings come from the environment the
    parent set; research workers belong to the parent."""
    from api.app import create_app
    from api.runtime import background_services_for

    settings = settings_or_exit()
    configure_logging(fmt=settings.log_format)
    application = create_app(settings, background_services=background_services_for(settings, 0))
    freeze_startup_heap()
    return application


def freeze_startup_heap() -> None:
    """Move everything built at start-up (modules, routes, schemas: ~300,000 objects) out of the
    garbage collector's reach. A full collection walked all of it, ~170 ms with the API's
    imports, and stalled every request and stream in flight: the SSE fan-out's p99 was a few
    events held back for all 500 subscribers at once. Only for the long-lived server process
    (tests build many apps in one process and must keep collecting them)."""
    import gc

    gc.collect()
    gc.freeze()


@app.command()
def worker(
    concurrency: int = typer.Option(2, min=1, help="Jobs run at once by this process."),
    heartbeat_file: Path | None = typer.Option(None, hidden=True, help="Touched every second (for `serve`)."),
) -> None:
    """Run research workers (and the webhook sender) without the HTTP API."""
    import asyncio

    from api.runtime import run_workers

    settings = settings_or_exit()
    configure_logging(fmt=settings.log_format)
    migrated_database_url(settings)
    asyncio.run(run_workers(settings, concurrency, heartbeat_file))


@app.command()
def migrate() -> None:
    """Apply pending database migrations."""
    settings = settings_or_exit()
    configure_logging(fmt=settings.log_format)
    migrated_database_url(settings)
    typer.echo("migrations applied")


@admin_app.command("create")
def admin_create(
    email: str = typer.Argument(..., help="Email of the admin account."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from the first line of stdin."
    ),
) -> None:
    """Create a verified admin, or promote (and verify) an existing account."""
    import asyncio

    from auth.service import create_admin_account
    from core.errors import DomainError

    settings = settings_or_exit()
    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else None
    database_url = migrated_database_url(settings)
    try:
        user, created = asyncio.run(create_admin_account(settings, database_url, email, password))
    except DomainError as exc:
        fail(exc.detail)
        raise  # unreachable
    typer.echo(f"admin {user.email} {'created' if created else 'promoted'} ({user.id})")


@app.command()
def openapi() -> None:
    """Print the app's OpenAPI JSON (touches no database)."""
    from api.app import create_app

    json.dump(create_app(settings_or_exit()).openapi(), sys.stdout, indent=2)
    sys.stdout.write("\n")


ledger_app = typer.Typer(no_args_is_help=True, help="Credits ledger commands.", rich_markup_mode=None)
app.add_typer(ledger_app, name="ledger")


@ledger_app.command("check")
def ledger_check() -> None:
    """Verify every account: ledger sums to the balance, balance_after chains in seq order."""
    from ledger.check import run_ledger_check

    raise typer.Exit(run_ledger_check(migrated_database_url(settings_or_exit())))


secrets_app = typer.Typer(
    no_args_is_help=True,
    help="Keys that seal stored secrets (webhook signing secrets).",
    rich_markup_mode=None,
)
app.add_typer(secrets_app, name="secrets")


@secrets_app.command("new-key")
def secrets_new_key() -> None:
    """Print a new key for INFRENCE_SECRET_KEY."""
    from core.secret_box import new_key

    typer.echo(new_key())


@secrets_app.command("reseal")
def secrets_reseal() -> None:
    """Seal every stored secret under INFRENCE_SECRET_KEY (run after a rotation, then drop the old
    key from INFRENCE_SECRET_KEY_PREVIOUS)."""
    import asyncio

    from auth.webhook_secrets import WebhookSecrets
    from core.db import Database
    from core.secret_box import UnreadableSecret

    settings = settings_or_exit()
    database_url = migrated_database_url(settings)

    async def run():
        db = Database(database_url, min_size=1, max_size=2)
        await db.open()
        try:
            return await WebhookSecrets(db, settings).reseal()
        finally:
            await db.close()

    try:
        report = asyncio.run(run())
    except UnreadableSecret as exc:
        fail(f"{exc}: list the key that sealed it in INFRENCE_SECRET_KEY_PREVIOUS")
        raise  # unreachable
    typer.echo(f"webhook secrets resealed: {report.resealed}, already current: {report.unchanged}")


mail_app = typer.Typer(
    no_args_is_help=True, help="The mail outbox: every message, sent or kept.", rich_markup_mode=None
)
app.add_typer(mail_app, name="mail")


def _outbox(query, **params):
    """Run one outbox query against the (migrated) database of these settings."""
    import asyncio

    import psycopg
    from psycopg.rows import dict_row

    async def run():
        url = migrated_database_url(settings_or_exit())
        async with await psycopg.AsyncConnection.connect(url, row_factory=dict_row) as conn:
            return await query(conn, **params)

    return asyncio.run(run())


@mail_app.command("list")
def mail_list(
    limit: int = typer.Option(20, min=1, max=500, help="How many messages, newest first."),
    to: str | None = typer.Option(None, help="Only messages to this address."),
) -> None:
    """List the newest messages in the outbox (id, when, status, template, recipient, subject)."""
    from core.mail import list_outbox

    rows = _outbox(list_outbox, limit=limit, to=to)
    if not rows:
        typer.echo("no mail yet")
    for row in rows:
        when = row["created_at"].strftime("%Y-%m-%d %H:%M:%S")
        typer.echo(
            f"{str(row['id'])[:8]}  {when}  {row['status']:<7} {row['template']:<16} {row['to_address']}  {row['subject']}"
        )


@mail_app.command("show")
def mail_show(message_id: str = typer.Argument(..., help="A message id, or its first characters.")) -> None:
    """Print one message as its recipient reads it, links included."""
    from core.mail import outbox_messages

    if not re.fullmatch(r"[0-9a-fA-F-]{1,36}", message_id.strip()):
        fail("a message id is hexadecimal (with dashes): see `infrence mail list`")
    rows = _outbox(outbox_messages, id_prefix=message_id.strip())
    if not rows:
        fail(f"no message with an id starting {message_id!r}")
    if len(rows) > 1:
        fail(f"more than one message starts {message_id!r}: give more characters")
    row = rows[0]
    typer.echo(f"Id:      {row['id']}\nTo:      {row['to_address']}\nSubject: {row['subject']}")
    typer.echo(f"Status:  {row['status']} ({row['created_at']:%Y-%m-%d %H:%M:%S %Z})\n")
    typer.echo(row["text_body"].rstrip())


from graph.cli import research as research_command  # noqa: E402  (imports the graph lazily)

app.command("research")(research_command)


from evals.cli import eval_command  # noqa: E402  (typer only; the harness loads when the command runs)

app.command("eval")(eval_command)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
