"""Per-file coverage floor for the code that moves money or fails jobs: after the suite, every
file named here must be at least FLOOR % covered (lines), read from the combined `.coverage`
data pytest-cov leaves (xdist workers and the measured subprocesses included). Prints each
file's figure; exits 1 when one is under, or when one was not measured at all."""

from __future__ import annotations

import sys
from pathlib import Path

import coverage

FLOOR = 90.0
GUARDED = ["api/research/worker.py", "billing/*.py", "graph/providers/llm.py", "graph/providers/retry.py"]


def guarded_files(root: Path) -> list[Path]:
    return sorted(path for pattern in GUARDED for path in root.glob(pattern))


def main(data_file: str | None = None) -> int:
    """`data_file`: the combined coverage data (default: the checkout's `.coverage`)."""
    root = Path(__file__).resolve().parent.parent
    data = coverage.Coverage(data_file=data_file or str(root / ".coverage"))
    data.load()
    measured = {Path(name).resolve() for name in data.get_data().measured_files()}
    under = []
    print(f"Per-file coverage floor: {FLOOR:.0f}%")
    for path in guarded_files(root):
        _, statements, _, missing, _ = data.analysis2(str(path))
        if not statements:
            continue  # an empty __init__.py
        name = path.relative_to(root)
        if path.resolve() not in measured:
            print(f"  {name}: not measured")
            under.append(name)
            continue
        percent = 100.0 * (len(statements) - len(missing)) / len(statements)
        verdict = "ok" if percent >= FLOOR else "UNDER"
        print(f"  {name}: {percent:.1f}% ({len(missing)} of {len(statements)} lines missed) {verdict}")
        if percent < FLOOR:
            under.append(name)
    if under:
        print(f"Under {FLOOR:.0f}%: {', '.join(map(str, under))}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:2]))
