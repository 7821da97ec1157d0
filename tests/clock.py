"""A clock that moves only when a test says so (rate-limit windows are cut by the clock)."""

from __future__ import annotations

WINDOW_START = 1_800_000_000.0  # a multiple of every window we use (60 s, 15 min, 1 h)


class PinnedClock:
    def __init__(self, now: float = WINDOW_START + 1):
        self.now = now

    def __call__(self) -> float:
        return self.now


def pin_clock(app, now: float = WINDOW_START + 1) -> PinnedClock:
    """Pin the app's rate-limit clock; returns it so the test can move it."""
    clock = app.state.clock = PinnedClock(now)
    return clock
