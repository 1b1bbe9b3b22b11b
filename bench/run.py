"""Run every benchmark (a few minutes on a 2-core machine) and rewrite bench/RESULTS.md.

    make bench                      # = .venv/bin/python -m bench.run
    python -m bench.run --only kb_search sampling_scale --output /tmp/results.md

Benchmarks are not tests: nothing in `make test` depends on a timing. Each figure is a ratio against a
baseline or a limit measured or stated in the same run. PostgreSQL figures need a server at
BENCH_POSTGRES_URL (or FLYWHEEL_TEST_POSTGRES_URL; default postgresql+psycopg://postgres@127.0.0.1:5432/test);
each benchmark works in its own `bench_<random>` schema and drops it afterwards.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import logging
import os
import platform
import sqlite3
import subprocess
import sys
import time
import traceback
from pathlib import Path

from bench.common import Result, Row, pg_available

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
BENCHMARKS = ("replay_throughput", "sampling_scale", "import_speed", "kb_search", "kb_recall", "footprint",
              "ack_latency", "ack_load", "digest_posting", "redaction", "worker_scaling", "kb_embeddings")
SLACK_FILES = ("bot/app.py", "bot/server.py", "tests/support/mock_slack.py")
SLACK_BENCHMARKS = ("ack_latency", "ack_load", "digest_posting")


def slack_missing() -> str | None:
    """Why the Slack benchmarks cannot run, or None when the app, the server and the mock are there."""
    missing = [f for f in SLACK_FILES if not (ROOT / f).is_file()]
    if missing:
        return f"{', '.join(missing)} not there yet"
    try:
        importlib.import_module("bot.app")
        importlib.import_module("bot.server")
        importlib.import_module("tests.support.mock_slack")
    except Exception as exc:  # noqa: BLE001 - reported as the reason
        return f"the Slack app does not import yet ({type(exc).__name__}: {exc})"
    return None


def machine() -> list[tuple[str, str]]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "?")
    mem_kb = next((int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal:")), 0)
    nproc = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return [
        ("CPUs (`nproc`)", str(nproc)),
        ("CPU", cpu),
        ("memory", f"{mem_kb / 1024 / 1024:.1f} GiB"),
        ("OS", platform.platform()),
        ("Python", platform.python_version()),
        ("SQLite", sqlite3.sqlite_version),
        ("PostgreSQL", pg_available() or "not reachable"),
    ]


def _git() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True,
                               check=True).stdout.strip()
        return f"{head}{' + uncommitted changes' if dirty else ''}"
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _met(ok: bool | None) -> str:
    return "" if ok is None else ("yes" if ok else "**no**")


def _ratio(r: float | None) -> str:
    return "" if r is None else (f"{r:.2f}x" if r >= 0.01 else f"{r:.4f}x")


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render(rows: list[Row], notes: list[str], details: list[str], timings: dict[str, tuple[float, float]],
           skipped: dict[str, str], command: str, started: dt.datetime) -> str:
    nproc = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    before = next(iter(timings.values()))[1] if timings else 0.0
    contention = (f"1-minute load average before the first benchmark: {before:.2f} on {nproc} CPUs"
                  + ("; **other processes were busy: the timings are pessimistic**" if before > nproc * 0.75 else "")
                  + ". The per-benchmark load averages (last table) include this run's own processes.")
    lines = [
        "# Benchmark results",
        "",
        f"Written by `bench/run.py` on {started:%Y-%m-%d %H:%M} UTC (code: {_git()}); every run rewrites this file.",
        f"Command: `{command}` (`make bench` runs `$(BIN)/python -m bench.run`). "
        f"Total time: {sum(t for t, _ in timings.values()):.0f} s. {contention}",
        "Each figure is compared with a baseline or limit measured or stated in the same run; `ratio` = measured / "
        "baseline. Benchmarks are not tests: `make test` does not depend on any timing.",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        *[f"| {k} | {_cell(v)} |" for k, v in machine()],
        "",
        "## Figures",
        "",
        "| benchmark | figure | measured | baseline / limit | ratio | target | met |",
        "|---|---|---|---|---|---|---|",
        *[f"| {r.bench} | {_cell(r.figure)} | {_cell(r.measured)} | {_cell(r.baseline)} | {_ratio(r.ratio)} | "
          f"{_cell(r.target)} | {_met(r.ok)} |" for r in rows],
    ]
    for name, why in skipped.items():
        lines.append(f"| {name} | not measured yet | | | | | {_cell(why)} |")
    lines += ["", "## Notes", "", *([f"- {n}" for n in notes] or ["None."]), "", "## Time per benchmark", "",
              "| benchmark | seconds | load average (1 min) at its start |", "|---|---|---|",
              *[f"| {k} | {t:.1f} | {load:.2f} |" for k, (t, load) in timings.items()]]
    if details:
        lines += ["", "## Details", "", *[d + "\n" for d in details]]
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run Flywheel's benchmarks and rewrite bench/RESULTS.md.")
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, help="run only these benchmarks")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where to write the results (Markdown)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    started = dt.datetime.now(dt.UTC)
    command = "python -m bench.run" + ("" if argv is None and len(sys.argv) == 1 else
                                       " " + " ".join(sys.argv[1:] if argv is None else argv))
    total = Result()
    timings: dict[str, tuple[float, float]] = {}
    skipped: dict[str, str] = {}
    why_no_slack = slack_missing()
    for name in args.only or BENCHMARKS:
        if name in SLACK_BENCHMARKS and why_no_slack:
            skipped[name] = why_no_slack
            continue
        print(f"== {name}", flush=True)
        result = Result()
        load = os.getloadavg()[0]
        start = time.perf_counter()
        try:
            importlib.import_module(f"bench.{name}").run(result)
        except Exception as exc:  # noqa: BLE001 - one failing benchmark must not lose the others' figures
            traceback.print_exc()
            result.notes.append(f"{name}: FAILED ({type(exc).__name__}: {exc}); its figures are missing.")
        timings[name] = (time.perf_counter() - start, load)
        for row in result.rows:
            mark = {True: "ok", False: "MISS", None: "info"}[row.ok]
            print(f"   [{mark:>4}] {row.figure}: {row.measured} vs {row.baseline} ({_ratio(row.ratio)})", flush=True)
        total.rows += result.rows
        total.notes += result.notes
        total.details += result.details
    args.output.write_text(render(total.rows, total.notes, total.details, timings, skipped, command, started),
                           encoding="utf-8")
    print(f"Results written to {args.output} in {sum(t for t, _ in timings.values()):.0f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
