"""Shared helpers for the benchmarks: result rows, timers, throwaway databases (SQLite files, PostgreSQL
schemas), offline services and process memory."""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

PG_URL = os.environ.get("BENCH_POSTGRES_URL") or os.environ.get("FLYWHEEL_TEST_POSTGRES_URL") or \
    "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DATA = Path(os.environ.get("BENCH_DATA", "/work/shared/data"))
MTRAG = DATA / "mtrag/mtragun-human/generation_tasks/reference.jsonl"
DSTC10 = DATA / "dstc10-track2-task2"


@dataclass
class Row:
    """One figure of RESULTS.md: `ratio` is measured / baseline (or limit); `ok` whether it meets `target`."""

    bench: str
    figure: str
    measured: str
    baseline: str
    ratio: float | None
    target: str
    ok: bool | None


@dataclass
class Result:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)  # Markdown blocks (query plans…)

    def add(self, figure: str, measured: str, baseline: str, ratio: float | None, target: str,
            ok: bool | None, *, bench: str) -> None:
        self.rows.append(Row(bench, figure, measured, baseline, ratio, target, ok))


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 10 else f"{seconds:.1f} s"


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


@contextmanager
def timer() -> Iterator[Callable[[], float]]:
    start = time.perf_counter()
    end: list[float] = []
    yield lambda: (end[0] if end else time.perf_counter()) - start
    end.append(time.perf_counter())


def pg_available() -> str | None:
    """The server version, or None when PostgreSQL cannot be reached."""
    try:
        engine = create_engine(PG_URL)
        with engine.connect() as conn:
            version = conn.execute(text("SHOW server_version")).scalar_one()
        engine.dispose()
        return str(version)
    except Exception:  # noqa: BLE001 - any failure means "not available" for a benchmark
        return None


@contextmanager
def pg_schema() -> Iterator[str]:
    """A private schema `bench_<random>` (dropped afterwards); yields a URL whose connections see only it."""
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def database(kind: str) -> Iterator[str]:
    """A throwaway database URL: "sqlite" (a file in a temp dir) or "postgresql" (a private schema)."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="flywheel-bench-") as tmp:
            yield f"sqlite:///{Path(tmp) / 'bench.db'}"
    else:
        with pg_schema() as url:
            yield url


def services(url: str, **kwargs: Any):  # type: ignore[no-untyped-def]
    """Offline services on `url` (migrated); settings overrides go in `settings`."""
    from bot.llm.offline import OfflineLLM
    from bot.services import build_services
    from bot.settings import Settings

    overrides = kwargs.pop("settings", {})
    settings = Settings(_env_file=None, database_url=url, llm_provider="offline", **overrides)  # type: ignore[call-arg]
    return build_services(settings, llm=kwargs.pop("llm", None) or OfflineLLM(), **kwargs)


def rss_mb() -> float:
    """Resident set size of this process now, in MiB (Linux /proc)."""
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def dispose(svc: Any) -> None:
    svc.engine.dispose()
