"""The PostgreSQL queue (procrastinate): jobs deferred by `flywheel serve`, run by `flywheel worker` processes.
Each job runs once however many workers share the queue, a failing job is retried with backoff, a worker killed
mid-outline has its job retried by another (the outline is posted once), and the whole loop runs through signed
requests with serve + a worker. Skipped without FLYWHEEL_TEST_POSTGRES_URL."""

from __future__ import annotations

import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.domain import GapState
from bot.queue import Runtime, build_queue
from bot.queue import tasks as registry
from bot.queue.pg import PgQueue, WorkerThread, ensure_schema
from bot.services import build_services
from bot.settings import Settings
from handlers.ids import ActionId
from storage.models import Gap, Outline, ReplayRun
from tests.conftest import NO_POSTGRES, PG_URL, _drop_pg_schema, _pg_url
from tests.queue.procs import HttpHarness, SlowOpenAI, env_for, seed, serve, worker
from tests.support.fake_llm import FakeLLM
from tests.support.harness import ANA, REVIEW, texts, wait
from tests.support.mock_slack import MockSlack

pytestmark = [pytest.mark.skipif(not PG_URL, reason=NO_POSTGRES),
              pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")]


@pytest.fixture
def pg_url() -> Iterator[str]:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    url = _pg_url(schema)
    yield url
    _drop_pg_schema(schema)


def test_schema_is_applied_once_and_init_is_idempotent(pg_url: str) -> None:
    assert ensure_schema(pg_url) is True
    assert ensure_schema(pg_url) is False  # `flywheel init` again, or a second worker starting


def test_two_workers_run_each_job_once_and_a_failing_job_is_retried_with_backoff(pg_url: str) -> None:
    settings = Settings(_env_file=None, database_url=pg_url, queue_backoff=1, queue_max_attempts=3,  # type: ignore[call-arg]
                        queue_heartbeat=1)
    services = build_services(settings, llm=FakeLLM())
    seen: list[tuple[str, Any, str, float]] = []
    lock = threading.Lock()

    def record(rt: Runtime, p: dict[str, Any]) -> None:
        with lock:
            seen.append(("record", p["n"], threading.current_thread().name, time.monotonic()))
        time.sleep(0.01)

    def flaky(rt: Runtime, p: dict[str, Any]) -> None:
        with lock:
            seen.append(("flaky", 0, "", time.monotonic()))
            tries = sum(1 for s in seen if s[0] == "flaky")
        if tries <= 2:
            raise RuntimeError("boom")

    def broken(rt: Runtime, p: dict[str, Any]) -> None:
        with lock:
            seen.append(("broken", 0, "", time.monotonic()))
        raise RuntimeError("always")

    registry.task("test-record")(record)
    registry.task("test-flaky")(flaky)
    registry.task("test-broken")(broken)
    queue = build_queue(settings)
    assert isinstance(queue, PgQueue)
    workers = [WorkerThread(Runtime(services), 2), WorkerThread(Runtime(services), 2)]
    try:
        for w in workers:
            w.start()
        queue.enqueue("test-flaky", {})
        queue.enqueue("test-broken", {})
        for n in range(40):
            queue.enqueue("test-record", {"n": n})
        wait(lambda: sum(1 for s in seen if s[0] == "flaky") == 3 and queue.unfinished("test-record") == 0
             and queue.failed() == 1, 60, "every job, the broken one given up")
        assert queue.stats()[0] == 0
        assert sum(1 for s in seen if s[0] == "broken") == 3  # FLYWHEEL_QUEUE_MAX_ATTEMPTS runs, then kept as failed
    finally:
        for w in workers:
            w.stop()
        queue.close()
        registry._TASKS.pop("test-record", None)
        registry._TASKS.pop("test-flaky", None)
        registry._TASKS.pop("test-broken", None)
    assert sorted(s[1] for s in seen if s[0] == "record") == list(range(40))  # each once
    t = [s[3] for s in seen if s[0] == "flaky"]
    assert t[1] - t[0] >= 0.9 and t[2] - t[1] >= 1.9  # 1 s, then 2 s (FLYWHEEL_QUEUE_BACKOFF doubling)


def test_kill9_of_a_worker_mid_outline_another_worker_posts_it_once(pg_url: str, tmp_path: Path) -> None:
    llm = SlowOpenAI()
    with MockSlack() as slack:
        services, item = seed(pg_url, slack, tmp_path)
        env = env_for(pg_url, slack, llm)
        web, url = serve(env, tmp_path)  # on PostgreSQL serve only defers
        first = worker(env, tmp_path)
        second = None
        try:
            llm.hold()
            harness = HttpHarness(url, slack, services)
            assert harness.react("books", item, user=ANA).status == 200
            assert llm.arrived.wait(30), first.output + web.output
            first.kill9()
            llm.release()
            second = worker(env, tmp_path)
            wait(lambda: any("Suggested article" in texts(m) for m in harness.thread(item)), 60,
                 "the outline from the second worker")
        finally:
            for proc in (web, first, second):
                if proc is not None:
                    proc.stop()
        replies = harness.thread(item)
    llm.stop()
    assert len(replies) == 1 and "Refunds to a card" in texts(replies[0])
    with services.session() as s:
        assert len(list(s.scalars(select(Outline)))) == 1
    assert "job of a dead worker retried" in second.output


def test_the_whole_loop_through_signed_requests_with_serve_and_a_worker(pg_url: str, tmp_path: Path) -> None:
    with MockSlack() as slack:
        services, item = seed(pg_url, slack, tmp_path)
        env = env_for(pg_url, slack, None)
        web, url = serve(env, tmp_path)
        jobs = worker(env, tmp_path, "--concurrency", "2")
        try:
            harness = HttpHarness(url, slack, services)
            assert harness.react("books", item, user=ANA).status == 200
            gap_msg = harness.thread_with(item, "Suggested article", 60)
            assert harness.click(REVIEW, gap_msg["ts"], ActionId.WRITE_DRAFT).status == 200
            draft = harness.thread_with(item, "Draft for gap #", 60)
            assert harness.click(REVIEW, draft["ts"], ActionId.PUBLISH).status == 200
            verdict = harness.thread_with(item, "replayed after publishing", 60)
        finally:
            web.stop()
            jobs.stop()
    assert "Gap #" in texts(verdict)
    with services.session() as s:
        gap = s.scalars(select(Gap)).one()
        assert gap.state in (GapState.VERIFIED.value, GapState.FAILED.value)
        assert s.scalars(select(ReplayRun).where(ReplayRun.kind == "publish")).first() is not None
    assert "job done task='outline'" in jobs.output and "job done task='publish'" in jobs.output
    assert "job done" not in web.output  # the web process only deferred: the worker ran every job
    assert jobs.popen.returncode == 0, jobs.output  # SIGTERM: the worker finished and exited cleanly


def test_serve_with_worker_runs_the_jobs_itself_and_stops_cleanly(pg_url: str, tmp_path: Path) -> None:
    with MockSlack() as slack:
        services, item = seed(pg_url, slack, tmp_path)
        web, url = serve(env_for(pg_url, slack, None), tmp_path, "--with-worker")
        try:
            harness = HttpHarness(url, slack, services)
            assert harness.react("books", item, user=ANA).status == 200
            harness.thread_with(item, "Suggested article", 60)
        finally:
            web.stop()
    assert "in-process worker started" in web.output and "job done task='outline'" in web.output
    assert web.popen.returncode == 0, web.output


def test_a_regression_run_fans_out_one_job_per_case_and_gathers_every_result(pg_url: str,
                                                                            tmp_path: Path) -> None:
    from bench.worker_scaling import CASES, _make_cases
    from bot.services.regression import run_regressions
    from storage.models import QueuedResult

    settings = Settings(_env_file=None, database_url=pg_url, queue_heartbeat=1)  # type: ignore[call-arg]
    services = build_services(settings, llm=FakeLLM())
    _make_cases(services)
    services.queue = build_queue(settings)
    workers = [WorkerThread(Runtime(services), 2) for _ in range(2)]
    try:
        for w in workers:
            w.start()
        seen: list[int] = []
        results = run_regressions(services, actor=None, on_result=lambda r: seen.append(r.case_id))
    finally:
        for w in workers:
            w.stop()
        services.queue.close()
    assert len(results) == CASES and sorted(seen) == sorted(r.case_id for r in results)
    assert all(r.error is None and r.run_id is not None for r in results)
    with services.session() as s:
        assert len(list(s.scalars(select(ReplayRun).where(ReplayRun.kind == "regression")))) == CASES  # once each
        assert list(s.scalars(select(QueuedResult))) == []  # gathered, then cleaned up


def test_a_fanned_out_run_with_no_worker_ends_at_its_deadline_with_errors(pg_url: str) -> None:
    from bench.worker_scaling import CASES, _make_cases
    from bot.services.regression import run_regressions

    settings = Settings(_env_file=None, database_url=pg_url, regression_deadline=1)  # type: ignore[call-arg]
    services = build_services(settings, llm=FakeLLM())
    _make_cases(services)
    services.queue = build_queue(settings)  # jobs queued in procrastinate_jobs; no worker runs them
    started = time.monotonic()
    try:
        results = run_regressions(services, actor=None)
    finally:
        services.queue.close()
    assert time.monotonic() - started < 15
    assert len(results) == CASES and all(r.error and r.verdict is None and not r.broke for r in results)
