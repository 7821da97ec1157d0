"""The dashboard spells no vocabulary of its own: mode prices come from GET /v1/modes, statuses,
modes and event types from the generated OpenAPI enums (web/src/api). Reads the sources and the
built bundle; no browser."""

from __future__ import annotations

import re
from pathlib import Path

from api.research.schemas import JobStatus
from graph.modes import MODES

WEB = Path(__file__).resolve().parents[2] / "web"
GENERATED = WEB / "src" / "api" / "schema.d.ts", WEB / "src" / "api" / "enums.ts"


def _sources() -> dict[Path, str]:
    return {
        path: path.read_text()
        for path in sorted((WEB / "src").rglob("*.ts*"))
        if path not in GENERATED and path.suffix in (".ts", ".tsx")
    }


def _words(values) -> str:
    return "|".join(re.escape(str(v)) for v in values)


def test_no_price_is_written_next_to_a_mode_name():
    """A price (15, 60, 200...) on the same line as a quoted mode name is a hand-kept price table."""
    prices = {m.price_credits for m in MODES.values() if m.price_credits is not None}
    pattern = re.compile(rf"[\"'`]({_words(MODES)})[\"'`].{{0,120}}\b({_words(prices)})\b", re.IGNORECASE)
    offenders = [
        f"{path.relative_to(WEB)}:{n}: {line.strip()}"
        for path, text in _sources().items()
        for n, line in enumerate(text.splitlines(), 1)
        if pattern.search(line)
    ]
    assert not offenders, "hard-coded mode prices:\n" + "\n".join(offenders)


def test_no_list_of_statuses_or_modes_is_written_by_hand():
    """Statuses, modes or `job.<status>` event types listed one after another (`["queued", "running"`)
    are a copy of an OpenAPI enum."""
    statuses = [s.value for s in JobStatus]
    for values in (statuses, [f"job.{s}" for s in statuses], list(MODES)):
        quoted = rf"[\"'`]({_words(values)})[\"'`]"
        pattern = re.compile(rf"{quoted}\s*,\s*{quoted}")
        offenders = [
            f"{path.relative_to(WEB)}: {match.group(0)}"
            for path, text in _sources().items()
            for match in pattern.finditer(text)
            if match.group(1) != match.group(2)
        ]
        assert not offenders, "hand-written vocabulary:\n" + "\n".join(offenders)


def test_the_built_dashboard_carries_no_price_table():
    bundles = list((WEB / "dist" / "assets").glob("*.js"))
    assert bundles, "build the dashboard first (scripts/build_web.sh)"
    prices = [m.price_credits for m in MODES.values() if m.price_credits is not None]
    table = re.compile(rf"[\"']?(credits|price\w*)[\"']?\s*:\s*({_words(prices)})\b")
    for bundle in bundles:
        assert not table.search(bundle.read_text()), bundle.name
