"""The queue counts a fanned-out run's jobs per batch, and its gatherer asks about its own batch only.

A regression run cut by FLYWHEEL_REGRESSION_DEADLINE leaves its jobs queued. The next run's gatherer used to count
every `regression-case` job, those leftovers included, so it never saw that its own missing case had been given up
and waited for the deadline. Both backends store the payload (`procrastinate_jobs.args` JSONB on PostgreSQL, the
persist-queue row's JSON on SQLite) and count by its "batch". On PostgreSQL `stats()` and `failed()` (every
`/metrics` scrape) read on the queue's pool, not a new connection each.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from bot.queue import Runtime, build_queue
from bot.queue import tasks as registry
from bot.services import Services
from bot.services.regression import GATHER_IDLE, run_regressions
from bot.settings import Settings
from storage.models import RegressionCase


@pytest.fixture
def real_queue(db_url_engine: tuple[str, Any], settings: Settings) -> Iterator[Any]:
    """The backend `flywheel serve` would build for this database: `PgQueue` or `LocalQueue`; no worker runs."""
    queue = build_queue(settings.model_copy(update={"database_url": db_url_engine[0]}))
    yield queue
    getattr(queue, "close", lambda: None)()


class GoneWorkers:
    """A distributed queue over the real backend. While `working` is false its jobs are stored and nobody runs
    them (the workers are gone); while it is true a worker takes each job at once and runs it, except a case in
    `lost`, whose job was given up after every retry (no result, nothing left to run). `asks` counts the gatherer's
    questions about unfinished jobs."""

    distributed = True

    def __init__(self, real: Any, inline: Services, lost: set[int]) -> None:
        self.real, self.inline, self.lost = real, inline, lost
        self.working, self.asks = False, 0

    def enqueue(self, task: str, payload: dict[str, Any], *, key: str | None = None) -> None:
        if not self.working:
            self.real.enqueue(task, payload, key=key)
        elif int(payload["case_id"]) not in self.lost:
            registry.run(Runtime(self.inline), task, payload)

    def unfinished(self, task: str, *, batch: str | None = None) -> int:
        self.asks += 1
        return int(self.real.unfinished(task, batch=batch))


def _cases(services: Services, n: int) -> list[int]:
    from bench.worker_scaling import _make_cases

    _make_cases(services)
    with services.session() as s:
        return list(s.scalars(select(RegressionCase.id).order_by(RegressionCase.id)))[:n]


def test_the_queue_counts_unfinished_jobs_per_task_and_batch(real_queue: Any) -> None:
    for n in range(3):
        real_queue.enqueue("regression-case", {"batch": "first", "case_id": n, "actor": None})
    for n in range(2):
        real_queue.enqueue("regression-case", {"batch": "second", "case_id": n, "actor": None})
    real_queue.enqueue("noop", {"batch": "first"})
    assert real_queue.unfinished("regression-case") == 5
    assert real_queue.unfinished("regression-case", batch="first") == 3
    assert real_queue.unfinished("regression-case", batch="second") == 2
    assert real_queue.unfinished("regression-case", batch="third") == 0
    assert real_queue.unfinished("noop") == 1  # SQLite counted every job, whatever its task
    assert real_queue.stats()[0] == 6


def test_a_gatherer_does_not_wait_for_the_jobs_of_an_earlier_run_cut_by_its_deadline(
        services: Services, real_queue: Any) -> None:
    ids = _cases(services, 5)
    services.queue = queue = GoneWorkers(real_queue, dataclasses.replace(services, queue=None), lost={ids[-1]})

    # The first run: no worker, cut by its deadline; its five jobs stay queued.
    services.settings = services.settings.model_copy(update={"regression_deadline": 0.3})
    first = run_regressions(services, case_ids=ids)
    assert all(r.error and "no result within" in r.error for r in first)
    assert real_queue.unfinished("regression-case") == 5

    # The second run: a worker is back and runs every job of it but one, given up. Its gatherer must decide that
    # after GATHER_IDLE looks with nothing of its own batch left, not wait for the first run's jobs (it used to
    # wait out the whole deadline and blame the workers).
    services.settings = services.settings.model_copy(update={"regression_deadline": 20})
    queue.working, queue.asks = True, 0
    second = run_regressions(services, case_ids=ids)
    assert [r.case_id for r in second] == ids
    assert all(r.error is None and r.run_id is not None for r in second[:-1])
    assert second[-1].error == "its job was given up after every retry" and second[-1].verdict is None
    assert queue.asks == GATHER_IDLE  # one ask a look with no new result, and no look more
    assert real_queue.unfinished("regression-case") == 5  # the first run's jobs are still there, untouched


def test_the_pg_queue_reads_its_metrics_on_its_pool(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import psycopg

    from bot.queue.pg import PgQueue, conninfo, ensure_schema

    ensure_schema(pg_url)
    queue = PgQueue(pg_url, Settings(_env_file=None, database_url=pg_url))  # type: ignore[call-arg]
    try:
        for n in range(3):
            queue.enqueue("noop", {"n": n})
        with psycopg.connect(conninfo(pg_url)) as conn:  # one job given up (as after its last attempt)
            conn.execute("UPDATE procrastinate_jobs SET status = 'failed'"
                         " WHERE id = (SELECT min(id) FROM procrastinate_jobs)")

        def refuse(*_: Any, **__: Any) -> None:
            raise AssertionError("a new connection for each /metrics scrape")

        pool = queue.app.connector.get_sync_connector().pool  # type: ignore[attr-defined]
        opened = pool.get_stats()["connections_num"]
        monkeypatch.setattr(psycopg, "connect", refuse)
        scrapes = [(queue.stats()[0], queue.failed()) for _ in range(3)]
        assert scrapes == [(2, 1)] * 3
        assert pool.get_stats()["connections_num"] == opened  # the pool's connection, reused
        assert queue.stats()[1] >= 0.0
    finally:
        monkeypatch.undo()
        queue.close()
