"""Where the API process spends its CPU under the benches' loads: py-spy samples `infrence serve`
while wrk reads `GET /v1/credits` and then while `bench/jobs.py`'s clients create jobs; prints
the share of samples by layer (ours, FastAPI/Starlette, uvicorn, psycopg, redis, asyncio, ...)
and the top functions by own time. Prints, never asserts.

    uv run python -m bench.profile [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

from bench.http_credits import wrk
from bench.jobs import free_port, funded_key, measure_creates, start, stop, wait_healthy

LAYERS = [  # first match wins, on the start of the frame's (py-spy shortened) file path
    ("fastapi/starlette/pydantic", ("fastapi/", "starlette/", "pydantic", "anyio/")),
    ("uvicorn/h11/httptools", ("uvicorn/", "h11/", "httptools/")),
    ("ours", ("api/", "core/", "auth/", "billing/", "ledger/", "graph/")),
    ("psycopg", ("psycopg",)),
    ("redis", ("redis/",)),
    ("logging/json", ("logging/", "json/")),
    ("asyncio", ("asyncio/",)),
]


def layer_of(frame: str) -> str:
    path = frame.rsplit("(", 1)[-1].lstrip("/")
    for name, prefixes in LAYERS:
        if any(path.startswith(prefix) or f"/{prefix}" in path for prefix in prefixes):
            return name
    return "other"


def summarise(raw: Path, title: str, top: int = 12) -> None:
    """py-spy's raw (collapsed) stacks: share of samples by the innermost frame's layer, the
    functions with the most own samples, and our functions by inclusive time (a sample counts
    once for each of our functions on its stack: where a request's CPU goes, callees included)."""
    by_layer: collections.Counter[str] = collections.Counter()
    by_function: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        leaf = stack.split(";")[-1]
        total += int(count)
        by_layer[layer_of(leaf)] += int(count)
        by_function[leaf.split(" (")[0] + " " + leaf.rsplit("/", 1)[-1].rstrip(")")] += int(count)
        frames = [f for f in stack.split(";") if layer_of(f) == "ours"]
        for name in {f.split(" (")[0] + " " + f.rsplit("(", 1)[-1].rsplit(":", 1)[0] for f in frames}:
            inclusive[name] += int(count)
    print(f"{title}: {total} samples of the API process (own time, innermost frame)")
    for name, count in by_layer.most_common():
        print(f"  {name:<28} {count / total:6.1%}")
    print("  top functions:")
    for name, count in by_function.most_common(top):
        print(f"    {count / total:6.1%}  {name}")
    print("  our functions, inclusive:")
    for name, count in inclusive.most_common(top):
        print(f"    {count / total:6.1%}  {name}")


def record(pid: int, seconds: float, out: Path) -> subprocess.Popen:
    command = ["py-spy", "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", "200"]
    return subprocess.Popen(
        [*command, "--format", "raw", "--output", str(out), "--nonblocking"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def main(args: argparse.Namespace) -> None:
    if not shutil.which("wrk") or not shutil.which("py-spy"):
        raise SystemExit("needs wrk (apt-get install -y wrk) and py-spy (uv sync --dev)")
    data_dir = Path(tempfile.mkdtemp(prefix="infrence-bench-profile-"))
    data_dir.chmod(0o755)  # pgserver drops root to its own user, which must enter the dir
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env |= {
        "INFRENCE_DATA_DIR": str(data_dir),
        "INFRENCE_RESEARCH_CREATES_PER_MINUTE": "1000000",
        "INFRENCE_DB_POOL_MAX": "40",
    }
    port = free_port()
    server = start(["serve", "--port", str(port), "--workers", "0"], env, data_dir / "serve.log")
    try:
        api = f"http://127.0.0.1:{port}"
        await wait_healthy(api)
        key = await funded_key(api, data_dir, 10_000_000)
        wrk(api + "/v1/credits", key, 2, 32)  # warm-up
        sampler = record(server.pid, args.seconds, data_dir / "credits.txt")
        figures = wrk(api + "/v1/credits", key, args.seconds, 32)
        sampler.wait()
        summarise(data_dir / "credits.txt", f"GET /v1/credits, {figures.requests_per_sec:.0f} req/s")
        if not args.creates:
            return
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        async with httpx.AsyncClient(base_url=api, timeout=120, limits=limits) as http:
            sampler = record(server.pid, args.seconds, data_dir / "creates.txt")
            await measure_creates(http, key, args.creates, 32)
            sampler.wait()
        summarise(data_dir / "creates.txt", "POST /v1/research (async lite creates, 32 clients)")
    finally:
        stop(server)
        if args.keep:  # the raw stacks, for reading further (py-spy's collapsed format)
            Path(args.keep).mkdir(parents=True, exist_ok=True)
            for raw in data_dir.glob("*.txt"):
                shutil.copy(raw, Path(args.keep) / raw.name)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--creates", type=int, default=1500, help="0: profile GET /v1/credits only")
    parser.add_argument("--keep", help="a directory to copy the raw stacks (credits.txt, creates.txt) to")
    sys.exit(asyncio.run(main(parser.parse_args())))
