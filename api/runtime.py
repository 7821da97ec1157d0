"""Which background services a process runs beside (or instead of) the HTTP API."""

from __future__ import annotations

from api.app import BackgroundService
from api.settings import Settings


def background_services_for(settings: Settings, workers: int) -> list[BackgroundService]:
    """In-process research workers and delivery loops; wired by the research jobs package."""
    return []
