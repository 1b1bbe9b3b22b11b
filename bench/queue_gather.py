"""Gatherer load: what a fanned-out regression run (`regression.fan_out`) asks of PostgreSQL while it waits for
its cases. 60 cases, a fake agent answering after 200 ms, 2 in-process workers of concurrency 1 (`WorkerThread`,
as `serve --with-worker`); then two gatherers at once (two runs of 60 cases, as two instances' runs).

Counted on the gatherers' threads only (the workers share the engine): SQL statements (SQLAlchemy
`before_cursor_execute`), pool checkouts (each one a transaction and, with `pool_pre_ping`, a ping first), new
connections (the engine's pool connecting, and `psycopg.connect` calls: the queue's own connections) and the
queue's `unfinished` asks. Counts, not timings: the wall time is printed for context only.

    .venv/bin/python -m bench.queue_gather      # needs PostgreSQL (BENCH_POSTGRES_URL or the default)
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from sqlalchemy import event, select

from bench.common import Result, database, dispose, ms, pg_available, services

NAME = "queue_gather"
CASES, LATENCY, WORKERS = 60, 0.200, 2


class SlowAgent:
    """The built-in agent, answering after `latency` seconds (a remote agent's round trip)."""

    name = "bench-slow-agent"

    def __init__(self, inner: Any, latency: float) -> None:
        self.inner, self.latency = inner, latency

    def reply(self, history: Any, kb: Any, *, extra: Sequence[Any] = (), replay_id: str | None = None) -> Any:
        time.sleep(self.latency)
        return self.inner.reply(history, kb, extra=extra, replay_id=replay_id)


class Tally:
    """Counts per kind, only for the threads registered in `threads`."""

    def __init__(self) -> None:
        self.threads: set[int] = set()
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def hit(self, kind: str) -> None:
        if threading.get_ident() in self.threads:
            with self._lock:
                self.counts[kind] += 1


@contextmanager
def counting(svc: Any) -> Iterator[Tally]:
    tally = Tally()
    listeners: list[tuple[Any, str, Callable[..., None]]] = [
        (svc.engine, "before_cursor_execute", lambda *_: tally.hit("statements")),
        (svc.engine.pool, "checkout", lambda *_: tally.hit("checkouts")),
        (svc.engine.pool, "connect", lambda *_: tally.hit("new connections")),
    ]
    for target, name, fn in listeners:
        event.listen(target, name, fn)
    connect, unfinished = psycopg.connect, svc.queue.unfinished

    def counted_connect(*args: Any, **kwargs: Any) -> Any:
        tally.hit("new connections")
        return connect(*args, **kwargs)

    def counted_unfinished(task: str, **kwargs: Any) -> int:
        tally.hit("unfinished asks")
        return int(unfinished(task, **kwargs))

    psycopg.connect, svc.queue.unfinished = counted_connect, counted_unfinished  # type: ignore[assignment]
    try:
        yield tally
    finally:
        psycopg.connect, svc.queue.unfinished = connect, unfinished  # type: ignore[method-assign]
        for target, name, fn in listeners:
            event.remove(target, name, fn)


def _gather(svc: Any, ids: list[int], gatherers: int) -> tuple[Counter[str], float, int]:
    """(counts on the gatherers' threads, wall seconds, cases with a result) of `gatherers` runs at once."""
    from bot.services.regression import run_regressions

    done: list[int] = []
    with counting(svc) as tally:
        def one() -> None:
            tally.threads.add(threading.get_ident())
            done.extend(r.case_id for r in run_regressions(svc, case_ids=ids) if r.error is None)

        threads = [threading.Thread(target=one) for _ in range(gatherers)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return Counter(tally.counts), time.perf_counter() - start, len(done)


def measure() -> list[tuple[int, Counter[str], float, int]]:
    """[(gatherers, counts, wall seconds, cases run)] for one gatherer, then two at once."""
    from bench.worker_scaling import _make_cases
    from bot.agents import RagAgent
    from bot.llm.offline import OfflineLLM
    from bot.queue import Runtime
    from bot.queue.pg import PgQueue, WorkerThread, ensure_schema
    from storage.models import RegressionCase

    out = []
    with database("postgresql") as url:
        ensure_schema(url)
        llm = OfflineLLM()
        svc = services(url, llm=llm, agent=SlowAgent(RagAgent(llm), LATENCY), settings={"queue_heartbeat": 1})
        _make_cases(svc)
        with svc.session() as s:
            ids = list(s.scalars(select(RegressionCase.id).order_by(RegressionCase.id)))[:CASES]
        svc.queue = PgQueue(url, svc.settings)
        workers = [WorkerThread(Runtime(dataclasses.replace(svc, queue=None)), 1) for _ in range(WORKERS)]
        try:
            for w in workers:
                w.start()
            time.sleep(1.0)  # the workers are listening
            for gatherers in (1, 2):
                counts, wall, ran = _gather(svc, ids, gatherers)
                out.append((gatherers, counts, wall, ran))
        finally:
            for w in workers:
                w.stop()
            svc.queue.close()
            dispose(svc)
    return out


def _line(counts: Counter[str], per: int) -> str:
    kinds = ("statements", "checkouts", "new connections", "unfinished asks")
    return ", ".join(f"{counts[k] / per:.0f} {k}" for k in kinds)


def run(result: Result) -> None:
    if not pg_available():
        result.notes.append(f"{NAME}: skipped, PostgreSQL is not reachable (BENCH_POSTGRES_URL).")
        return
    for gatherers, counts, wall, ran in measure():
        figure = (f"gatherer's database use, {CASES} cases, agent {ms(LATENCY)}, {WORKERS} workers, "
                  f"{gatherers} gatherer(s) at once (postgresql)")
        per_case = counts["statements"] / gatherers / CASES
        result.add(figure, f"per gatherer: {_line(counts, gatherers)} ({ms(wall)}, {ran}/{CASES * gatherers} ran)",
                   "1 statement per case", per_case, "<= 1 statement per case", per_case <= 1.0, bench=NAME)


if __name__ == "__main__":
    res = Result()
    run(res)
    for row in res.rows:
        print(f"{row.figure}: {row.measured}; {row.ratio:.2f} statements/case")
    for note in res.notes:
        print(note)
