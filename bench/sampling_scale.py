"""Daily sample (`create_sample`) on 10k, 100k and 1M stored conversations, SQLite and PostgreSQL.

Rows are bulk-inserted (SQLite `executemany`, PostgreSQL `COPY`) with a realistic risk mix (30% risky, a few
reasons each), then the sample of several days is timed. The query plans of the two sampling queries, as
executed, show the indexes they use. Target: <= 1 s a sample at 1M, and a flat growth ratio."""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Iterator
from typing import Any

from sqlalchemy import event

from bench.common import Result, database, dispose, median, ms, pg_available, services

NAME = "sampling_scale"
SIZES = (10_000, 100_000, 1_000_000)
GENERATE_BUDGET = 60.0  # seconds to generate the rows of the next size, extrapolated
DAYS = 5  # samples timed per size (different days)
LIMIT = 1.0
INDEXES = ("ix_conversations_sample_key", "ix_conversations_sample_risk")
REASONS = ["escalated", "unresolved", "low CSAT", "agent said it did not know", "long conversation"]
COLUMNS = ("source", "external_id", "started_at", "channel", "metadata", "resolved", "escalated", "csat",
           "message_count", "risk_score", "risk_reasons", "sample_key", "imported_at")


def _rows(start: int, stop: int, kind: str) -> Iterator[tuple[Any, ...]]:
    rng = random.Random(start)
    now = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)
    stamp = now.strftime("%Y-%m-%d %H:%M:%S.%f") if kind == "sqlite" else now
    for i in range(start, stop):
        risky = rng.random() < 0.3
        reasons = rng.sample(REASONS, rng.randint(1, 3)) if risky else []
        score = float(sum(len(r) % 4 + 1 for r in reasons))
        yield ("bench", f"c{i}", stamp, "web", "{}", not risky, risky and "escalated" in reasons,
               float(rng.randint(1, 5)), 4, score, _json(reasons), rng.getrandbits(62), stamp)


def _json(items: list[str]) -> str:
    return "[" + ", ".join(f'"{r}"' for r in items) + "]"


def _insert(engine, start: int, stop: int) -> float:  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        if engine.dialect.name == "sqlite":
            marks = ", ".join("?" for _ in COLUMNS)
            cur.executemany(f"INSERT INTO conversations ({', '.join(COLUMNS)}) VALUES ({marks})",
                            _rows(start, stop, "sqlite"))
        else:
            with cur.copy(f"COPY conversations ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for row in _rows(start, stop, "postgresql"):
                    copy.write_row(row)
        raw.commit()
        if engine.dialect.name == "postgresql":
            cur.execute("ANALYZE conversations")  # what autovacuum does after a bulk load
            raw.commit()
    finally:
        raw.close()
    return time.perf_counter() - t


def _plans(engine, statements: list[tuple[str, Any]]) -> list[str]:  # type: ignore[no-untyped-def]
    """The plan of each sampling query as executed (same SQL, same parameters)."""
    out = []
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        for sql, params in statements:
            prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
            cur.execute(prefix + sql, params)
            rows = cur.fetchall()
            plan = "\n".join(str(r[-1]) for r in rows)
            out.append(" ".join(sql.split()) + "\n" + plan)
        raw.rollback()
    finally:
        raw.close()
    return out


def _sample_queries(svc, day: dt.date) -> tuple[float, list[tuple[str, Any]]]:  # type: ignore[no-untyped-def]
    from bot.services.sampling import create_sample

    seen: list[tuple[str, Any]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if "sampled_on IS NULL" in statement and statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    event.listen(svc.engine, "before_cursor_execute", capture)
    try:
        t = time.perf_counter()
        create_sample(svc, day=day, channel="bench", size=8)
        return time.perf_counter() - t, seen
    finally:
        event.remove(svc.engine, "before_cursor_execute", capture)


def _one_backend(result: Result, kind: str) -> None:
    with database(kind) as url:
        svc = services(url)
        try:
            timings: dict[int, float] = {}
            stored, rate, day = 0, 0.0, dt.date(2027, 1, 1)
            plans: list[str] = []
            for size in SIZES:
                if rate and (size - stored) / rate > GENERATE_BUDGET:
                    result.notes.append(f"{NAME} ({kind}): {size:,} not measured: generating "
                                        f"{size - stored:,} rows would take ~{(size - stored) / rate:.0f} s.")
                    break
                took = _insert(svc.engine, stored, size)
                rate, stored = (size - stored) / took, size
                samples = []
                for _ in range(DAYS):
                    seconds, statements = _sample_queries(svc, day)
                    samples.append(seconds)
                    day += dt.timedelta(days=1)
                timings[size] = median(samples)
                if size == max(SIZES) or size == stored:
                    plans = _plans(svc.engine, statements)
                result.add(f"daily sample at {size:,} conversations ({kind}; median of {DAYS} days, max "
                           f"{ms(max(samples))}; rows generated at {rate:,.0f}/s)", ms(timings[size]),
                           f"limit {ms(LIMIT)}", timings[size] / LIMIT, "<= 1.0x limit",
                           timings[size] <= LIMIT, bench=NAME)
            first, last = min(timings), max(timings)
            if last != first:
                growth = timings[last] / timings[first]
                result.add(f"growth of the sample time {first:,} -> {last:,} ({kind}; data grew "
                           f"{last // first}x)", f"{growth:.2f}x", f"{ms(timings[first])} at {first:,}", growth,
                           "flat (<= 2x)", growth <= 2.0, bench=NAME)
            used = all(any(ix in p for p in plans) for ix in INDEXES)
            result.add(f"sampling queries use {' and '.join(INDEXES)} ({kind}, at {last:,})",
                       "yes" if used else "NO", "EXPLAIN", None, "both indexes", used, bench=NAME)
            result.details.append(f"**Query plans of the daily sample, {kind}, {last:,} conversations** "
                                  "(the SQL as executed, then its plan):\n\n```\n" + "\n\n".join(plans) + "\n```")
        finally:
            dispose(svc)


def run(result: Result) -> None:
    _one_backend(result, "sqlite")
    if pg_available():
        _one_backend(result, "postgresql")
    else:
        result.notes.append(f"{NAME}: PostgreSQL not reachable; SQLite only.")
