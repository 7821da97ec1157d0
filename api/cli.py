"""The `infrence` command line: serve, worker, migrate, admin, openapi (and research, eval, ledger)."""

from __future__ import annotations

import json
import sys
import warnings

import typer

from core.logging import configure_logging
from core.settings import Settings, SettingsError, load_settings

warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Infrence: a Deep Research API.")
admin_app = typer.Typer(no_args_is_help=True, help="Operator commands.")
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
    workers: int = typer.Option(2, min=0, help="In-process research workers."),
) -> None:
    """Run the API (migrating first) with N in-process research workers."""
    import uvicorn

    from api.app import create_app
    from api.runtime import background_services_for
    from api.spa import build_if_missing

    configure_logging()
    exit_normally_on_sigterm()
    settings = settings_or_exit()
    migrated_database_url(settings)
    build_if_missing()
    application = create_app(settings, background_services=background_services_for(settings, workers))
    # log_config=None: uvicorn's loggers keep ours (JSON, secrets redacted from access lines).
    uvicorn.run(application, host=host, port=port, log_level="info", proxy_headers=True, log_config=None)


@app.command()
def worker(concurrency: int = typer.Option(2, min=1, help="Jobs run at once by this process.")) -> None:
    """Run research workers (and the webhook sender) without the HTTP API."""
    import asyncio

    from api.runtime import run_workers

    configure_logging()
    settings = settings_or_exit()
    migrated_database_url(settings)
    asyncio.run(run_workers(settings, concurrency))


@app.command()
def migrate() -> None:
    """Apply pending database migrations."""
    configure_logging()
    migrated_database_url(settings_or_exit())
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


ledger_app = typer.Typer(no_args_is_help=True, help="Credits ledger commands.")
app.add_typer(ledger_app, name="ledger")


@ledger_app.command("check")
def ledger_check() -> None:
    """Verify every account: ledger sums to the balance, balance_after chains in seq order."""
    from ledger.check import run_ledger_check

    raise typer.Exit(run_ledger_check(migrated_database_url(settings_or_exit())))


from graph.cli import research as research_command  # noqa: E402  (imports the graph lazily)

app.command("research")(research_command)


from evals.cli import eval_command  # noqa: E402  (typer only; the harness loads when the command runs)

app.command("eval")(eval_command)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
