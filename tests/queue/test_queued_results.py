"""The work queue's leftovers (`queued_results`) and the fan-out gatherer's database use.

Retention: the daily job (`bot/jobs.py: retention_job`) deletes the rows older than FLYWHEEL_QUEUE_RESULTS_DAYS,
a batch or a draft's parts always as a whole, never a batch still being gathered; two instances running it at once
delete once (its claim). The gatherer (`regression.fan_out`) looks at the results less and less often while it waits,
and the PostgreSQL queue counts its unfinished jobs on its own pool instead of a new connection per look.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from typing import Any

import pytest
from sqlalchemy import event, func, select

import bot.jobs as jobs
from bot.queue import Runtime, posted
from bot.queue import tasks as registry
from bot.services import Services, build_services
from bot.services.regression import RegressionResult, record_result, run_regressions
from storage.db import make_engine
from storage.models import QueuedResult, RegressionCase
from tests.support.clock import Clock
from tests.support.fake_llm import FakeLLM

NOW = dt.datetime(2026, 11, 20, 3, 30, tzinfo=dt.UTC)
DAY, HOUR = dt.timedelta(days=1), dt.timedelta(hours=1)


class HeldQueue:
    """A distributed queue whose first `run_first` jobs run at once (a worker took them) and the others wait
    until `release()`; `asks` counts the gatherer's questions about unfinished jobs."""

    distributed = True

    def __init__(self, inline: Services, run_first: int = 0) -> None:
        self.inline, self.run_first, self.ran, self.asks = inline, run_first, 0, 0
        self.held: list[tuple[str, dict[str, Any]]] = []
        self.batch = ""

    def enqueue(self, task: str, payload: dict[str, Any], *, key: str | None = None) -> None:
        self.batch = str(payload["batch"])
        if self.ran < self.run_first:
            self.ran += 1
            registry.run(Runtime(self.inline), task, payload)
        else:
            self.held.append((task, payload))

    def release(self) -> None:
        while self.held:
            registry.run(Runtime(self.inline), *self.held[0])
            self.held.pop(0)

    def unfinished(self, task: str, *, batch: str | None = None) -> int:
        self.asks += 1
        return len(self.held)


@pytest.fixture
def clock(services: Services) -> Clock:
    services.clock = c = Clock(NOW)
    return c


def add_batch(services: Services, clock: Clock, batch: str, at: dt.datetime, items: tuple[int, ...] = (1,)) -> None:
    """Results a `flywheel worker` wrote for a fanned-out run, at `at`."""
    clock.now = at
    for item in items:
        record_result(services, batch=batch, result=RegressionResult(item, 1, 1, "pass", False, 1))


def add_parts(services: Services, clock: Clock, key: str, at: dt.datetime, parts: tuple[int, ...] = (1,)) -> None:
    """A long draft's continuation messages, recorded once posted, at `at`."""
    clock.now = at
    for part in parts:
        posted.record(services, key, part, f"1700000000.{part:06d}")


def batches(services: Services) -> dict[str, int]:
    with services.session() as s:
        rows = s.execute(select(QueuedResult.batch, func.count()).group_by(QueuedResult.batch)).all()
    return {batch: n for batch, n in rows}


def _cases(services: Services, n: int) -> list[int]:
    from bench.worker_scaling import _make_cases

    _make_cases(services)
    with services.session() as s:
        return list(s.scalars(select(RegressionCase.id).order_by(RegressionCase.id)))[:n]


def test_the_daily_job_deletes_what_is_older_than_the_setting_and_keeps_the_rest(services: Services,
                                                                                 clock: Clock) -> None:
    old_draft, new_draft = posted.key("draft", "C1", "1.000100"), posted.key("draft", "C1", "2.000200")
    add_batch(services, clock, "cut-short", NOW - 20 * DAY, items=(1, 2, 3))  # late results of a deadline-cut run
    add_parts(services, clock, old_draft, NOW - 15 * DAY, parts=(1, 2))
    add_batch(services, clock, "recent", NOW - 13 * DAY)
    add_parts(services, clock, new_draft, NOW - DAY)
    add_batch(services, clock, "mixed", NOW - 30 * DAY, items=(1,))  # its newest row is recent: kept whole
    add_batch(services, clock, "mixed", NOW - HOUR, items=(2,))

    assert services.settings.queue_results_days == 14  # the default
    assert jobs.retention_job(services, None, now=NOW) == 5  # type: ignore[arg-type]
    assert batches(services) == {"recent": 1, new_draft: 1, "mixed": 2}
    assert posted.parts(services, new_draft) == {1: "1700000000.000001"}  # a rerun of that draft still updates
    assert posted.parts(services, old_draft) == {}


def test_the_setting_sets_the_age(services: Services, clock: Clock) -> None:
    services.settings = services.settings.model_copy(update={"queue_results_days": 3})
    add_batch(services, clock, "four-days", NOW - 4 * DAY)
    add_batch(services, clock, "two-days", NOW - 2 * DAY)
    assert jobs.retention_job(services, None, now=NOW) == 1  # type: ignore[arg-type]
    assert batches(services) == {"two-days": 1}


def test_a_batch_still_being_gathered_keeps_its_rows(services: Services, clock: Clock) -> None:
    # A gather may wait FLYWHEEL_REGRESSION_DEADLINE (here a day): rows older than FLYWHEEL_QUEUE_RESULTS_DAYS (a day)
    # but younger than twice the deadline are kept, so a run still gathering never loses a result.
    services.settings = services.settings.model_copy(update={"queue_results_days": 1, "regression_deadline": 86400})
    ids = _cases(services, 4)
    add_batch(services, clock, "older-run", NOW - 3 * DAY)
    clock.now = NOW
    services.queue = queue = HeldQueue(dataclasses.replace(services, queue=None), run_first=2)
    two_in, out = threading.Event(), []  # type: threading.Event, list[RegressionResult]

    def gather() -> None:
        out.extend(run_regressions(services, case_ids=ids, on_result=lambda _: len(batches(services)) and
                                   queue.ran == 2 and two_in.set()))

    gatherer = threading.Thread(target=gather)
    gatherer.start()
    try:
        assert two_in.wait(60), "the gatherer never read the first results"
        assert jobs.retention_job(services, None, now=NOW + 25 * HOUR) == 1  # type: ignore[arg-type]
        assert batches(services) == {queue.batch: 2}  # the run's rows are there for it
    finally:
        queue.release()
        gatherer.join(60)
    assert not gatherer.is_alive()
    assert [r.case_id for r in out] == ids and all(r.error is None and r.run_id for r in out)
    assert batches(services) == {}  # the gatherer cleaned up its own batch


def test_two_instances_running_the_job_at_once_delete_once(services: Services, clock: Clock,
                                                           db_url_engine: tuple[str, Any]) -> None:
    add_batch(services, clock, "old", NOW - 20 * DAY, items=(1, 2))
    other = build_services(services.settings, engine=make_engine(db_url_engine[0]), llm=FakeLLM(),
                           run_migrations=False, clock=clock)  # a second instance on the same database
    start, got = threading.Barrier(2), {}  # type: threading.Barrier, dict[str, int | None]

    def instance(name: str, svc: Services) -> None:
        start.wait()
        got[name] = jobs.retention_job(svc, None, now=NOW)  # type: ignore[arg-type]

    try:
        threads = [threading.Thread(target=instance, args=a) for a in (("one", services), ("two", other))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sorted(got.values(), key=str) == [2, None]  # one ran it; the other found it claimed
        add_batch(services, clock, "aged-since", NOW - 20 * DAY)
        assert jobs.retention_job(other, None, now=NOW + HOUR) is None  # type: ignore[arg-type]  # once a day
    finally:
        other.engine.dispose()
    assert batches(services) == {"aged-since": 1}
    assert jobs.retention_job(services, None, now=NOW + DAY) == 1  # type: ignore[arg-type]  # the next day


def test_the_daily_job_is_scheduled(services: Services) -> None:
    job = {j.id: j for j in jobs.build_scheduler(services, None).get_jobs()}["retention_job"]  # type: ignore[arg-type]
    fire = job.trigger.get_next_fire_time(None, dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC))
    assert (fire.day, fire.hour, fire.minute) == (21, 3, 30)


def test_a_waiting_gatherer_looks_less_and_less_often(services: Services) -> None:
    services.settings = services.settings.model_copy(update={"regression_deadline": 1.0})
    ids = _cases(services, 3)
    services.queue = queue = HeldQueue(dataclasses.replace(services, queue=None))  # no worker takes the jobs
    me, looks = threading.get_ident(), []  # type: int, list[str]

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if threading.get_ident() == me and statement.lstrip().upper().startswith("SELECT") \
                and "queued_results" in statement:
            looks.append(statement)

    event.listen(services.engine, "before_cursor_execute", count)
    try:
        results = run_regressions(services, case_ids=ids)
    finally:
        event.remove(services.engine, "before_cursor_execute", count)
    assert all(r.error and "no result within 1 s" in r.error for r in results)
    # 50 ms growing to 1 s: about 7 looks in the second (at a fixed 50 ms it was about 20), and the queue is asked at
    # most once a look
    assert 2 <= len(looks) <= 10, len(looks)
    assert queue.asks <= len(looks)


def test_the_pg_queue_counts_unfinished_jobs_on_its_pool(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import psycopg

    from bot.queue.pg import PgQueue, ensure_schema
    from bot.settings import Settings

    ensure_schema(pg_url)
    queue = PgQueue(pg_url, Settings(_env_file=None, database_url=pg_url))  # type: ignore[call-arg]
    try:
        queue.enqueue("noop", {"n": 1})
        queue.enqueue("noop", {"n": 2})

        def refuse(*_: Any, **__: Any) -> None:
            raise AssertionError("a new connection for each look at the queue")

        monkeypatch.setattr(psycopg, "connect", refuse)
        assert [queue.unfinished("noop") for _ in range(3)] == [2, 2, 2]
        assert queue.unfinished("outline") == 0
    finally:
        monkeypatch.undo()
        queue.close()
