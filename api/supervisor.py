"""`infrence serve --workers N`: research workers in N child processes, never in the API's own.

Graph work (parsing pages, filling a client's schema, validating) is CPU-bound and runs
synchronously; sharing the event loop that answers HTTP would let one job delay every
response. So each worker is an `infrence worker` child with the parent's exact settings and
storage. The supervisor restarts a child that dies (backing off when it dies young), kills
one whose event loop stops beating (hung), and on shutdown sends SIGTERM so running jobs
drain back to the queue. A job that keeps killing or hanging its worker is failed by the
claim's attempts counter (`api/research/worker.py`), not passed around for ever.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

from core.settings import Settings
from core.storage import resolve_storage

log = logging.getLogger(__name__)

HEARTBEAT_SECS = 1.0
CHECK_SECS = 0.5
YOUNG_DEATH_SECS = 10.0  # a child that dies sooner than this is restarted with a growing delay
MAX_RESTART_DELAY_SECS = 30.0
STARTUP_GRACE_SECS = 180.0  # imports and migrations on a loaded machine, before the first beat
STOP_GRACE_SECS = 45.0
WORKER_NICENESS = 5  # added to ours for each child  # the child's own drain takes up to 20 s; then SIGKILL


def worker_command(concurrency: int, heartbeat_file: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "api.cli",
        "worker",
        "--concurrency",
        str(concurrency),
        "--heartbeat-file",
        str(heartbeat_file),
    ]


class WorkerChild:
    """One supervised slot: its process, its heartbeat file and its restart history."""

    def __init__(self, slot: int, heartbeat_dir: Path):
        self.slot = slot
        self.heartbeat_file = heartbeat_dir / f"worker-{slot}.beat"
        self.proc: asyncio.subprocess.Process | None = None
        self.started_at = 0.0  # wall clock, compared with the heartbeat file's mtime
        self.started_monotonic = 0.0
        self.not_before = 0.0
        self.young_deaths = 0

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    def last_beat(self) -> float | None:
        """When the child's event loop last beat (epoch seconds); None before its first beat."""
        try:
            return self.heartbeat_file.stat().st_mtime
        except FileNotFoundError:
            return None

    def hung(self, hang_secs: float) -> float | None:
        """Seconds the child has been silent, if that is longer than allowed."""
        last = self.last_beat()
        silent = time.time() - (last if last is not None else self.started_at)
        limit = hang_secs if last is not None else STARTUP_GRACE_SECS
        return silent if silent > limit else None


class WorkerSupervisor:
    def __init__(self, settings: Settings, processes: int, *, concurrency: int = 1):
        self.settings = settings
        self.processes = processes
        self.concurrency = concurrency
        # Startup (imports, storage) and a bounded fill may both pause the loop a while; a loop
        # silent for two leases has already lost its jobs to other workers.
        self.hang_secs = max(20.0, 2.0 * settings.worker_lease_secs)
        self.heartbeat_dir = Path(tempfile.mkdtemp(prefix="infrence-workers-"))
        self.children = [WorkerChild(slot, self.heartbeat_dir) for slot in range(processes)]

    def _environment(self) -> dict[str, str]:
        storage = resolve_storage(self.settings)  # the parent's servers, already running
        return {
            **os.environ,
            **self.settings.as_environment(),
            "DATABASE_URL": storage.database_url,
            "REDIS_URL": storage.redis_url,
        }

    async def run(self, stop: asyncio.Event) -> None:
        env = self._environment()
        try:
            while not stop.is_set():
                for child in self.children:
                    await self._tend(child, env)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), CHECK_SECS)
        finally:
            await self._stop_all()

    async def _tend(self, child: WorkerChild, env: dict[str, str]) -> None:
        if child.alive:
            silent = child.hung(self.hang_secs)
            if silent is not None:
                log.error(
                    "worker %s (pid %s) silent for %.0f s: killing it", child.slot, child.proc.pid, silent
                )
                child.proc.kill()
                await child.proc.wait()
            return
        now = time.monotonic()
        if child.proc is not None and child.not_before == 0.0:
            lived = now - child.started_monotonic
            child.young_deaths = child.young_deaths + 1 if lived < YOUNG_DEATH_SECS else 0
            delay = min(MAX_RESTART_DELAY_SECS, 0.5 * 2**child.young_deaths) if child.young_deaths else 0.0
            child.not_before = now + delay
            log.warning(
                "worker %s (pid %s) exited with %s; restarting in %.1f s",
                child.slot,
                child.proc.pid,
                child.proc.returncode,
                delay,
            )
        if now < child.not_before:
            return
        child.heartbeat_file.unlink(missing_ok=True)
        child.proc = await asyncio.create_subprocess_exec(
            *worker_command(self.concurrency, child.heartbeat_file),
            env=env,
            start_new_session=True,  # Ctrl-C and group signals reach us; we drain the children
        )
        with contextlib.suppress(OSError):  # HTTP first: the API outranks its own workers for CPU
            os.setpriority(
                os.PRIO_PROCESS, child.proc.pid, os.getpriority(os.PRIO_PROCESS, 0) + WORKER_NICENESS
            )
        child.started_at, child.started_monotonic, child.not_before = time.time(), now, 0.0
        log.info("worker %s started (pid %s)", child.slot, child.proc.pid)

    async def _stop_all(self) -> None:
        """SIGTERM every child (they drain running jobs back to the queue), SIGKILL stragglers."""
        live = [child.proc for child in self.children if child.alive]
        for proc in live:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        waits = [asyncio.create_task(proc.wait()) for proc in live]
        if waits:
            _done, pending = await asyncio.wait(waits, timeout=STOP_GRACE_SECS)
            for proc in live:
                if proc.returncode is None:
                    log.error("worker pid %s did not drain in %.0f s: killing it", proc.pid, STOP_GRACE_SECS)
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
            await asyncio.gather(*pending, return_exceptions=True)
        for child in self.children:
            child.heartbeat_file.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            self.heartbeat_dir.rmdir()


def worker_processes_service(settings: Settings, processes: int):
    """A background service for `create_app`: N supervised worker child processes."""

    async def start(app):
        stop = asyncio.Event()
        supervisor = WorkerSupervisor(settings, processes)
        task = asyncio.create_task(supervisor.run(stop), name="worker-supervisor")

        async def stop_all() -> None:
            stop.set()
            await asyncio.gather(task, return_exceptions=True)

        return stop_all

    return start


async def beat(heartbeat_file: Path, stop: asyncio.Event) -> None:
    """In the child: touch the heartbeat file from the event loop (a blocked loop stops beating),
    and stop when the supervising parent is gone (the child was re-parented)."""
    parent = os.getppid()
    while not stop.is_set():
        heartbeat_file.touch()
        if os.getppid() != parent:
            log.warning("worker's supervisor is gone: stopping")
            stop.set()
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), HEARTBEAT_SECS)
