"""The embedded queue (persist-queue file, consumer threads): retry with backoff, give-up after the last
attempt, each job run once by several threads, a key queued once, unacked jobs resumed by the next start,
and the depth and oldest age that `/metrics` shows."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.metrics import Metrics
from bot.queue import Runtime, build_queue, start_jobs
from bot.queue import tasks as registry
from bot.queue.local import LocalQueue, queue_path
from bot.services import Services, build_services
from bot.settings import Settings
from tests.support.fake_llm import FakeLLM


@pytest.fixture
def runs() -> Iterator[list[tuple[str, Any, float]]]:
    """Test tasks: `flaky` fails its first two runs, `broken` always fails, `record` records its payload."""
    seen: list[tuple[str, Any, float]] = []
    lock = threading.Lock()

    def make(name: str, fail_times: int | None) -> None:
        def fn(rt: Runtime, p: dict[str, Any]) -> None:
            with lock:
                seen.append((name, p.get("n"), time.monotonic()))
                tries = sum(1 for s in seen if s[0] == name and s[1] == p.get("n"))
            if fail_times is None or tries <= fail_times:
                raise RuntimeError("boom")

        registry.task(f"test-{name}")(fn)

    make("flaky", 2)
    make("broken", None)
    make("record", 0)
    yield seen
    for name in ("flaky", "broken", "record"):
        registry._TASKS.pop(f"test-{name}", None)


@pytest.fixture
def services(tmp_path: Path) -> Services:
    """SQLite only: this queue is the embedded one."""
    return build_services(Settings(_env_file=None, database_url=f"sqlite:///{tmp_path / 'db.db'}"),  # type: ignore[call-arg]
                          llm=FakeLLM())


def _queue(tmp_path: Path, **overrides: Any) -> tuple[LocalQueue, Settings]:
    values = {"queue_backoff": 0.3, "queue_max_attempts": 3, **overrides}
    settings = Settings(_env_file=None, database_url=f"sqlite:///{tmp_path / 'f.db'}", **values)  # type: ignore[call-arg]
    queue = build_queue(settings)
    assert isinstance(queue, LocalQueue)
    return queue, settings


def _until(predicate: Any, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_queue_file_sits_beside_the_database(tmp_path: Path) -> None:
    assert queue_path(f"sqlite:///{tmp_path / 'x.db'}") == (tmp_path / "x.db-queue").resolve()
    assert queue_path("sqlite://") is None and queue_path("sqlite:///:memory:") is None


def test_a_failing_job_is_retried_with_doubling_backoff(tmp_path: Path, runs: list[Any], services: Services) -> None:
    queue, _ = _queue(tmp_path)
    queue.enqueue("test-flaky", {"n": 1})
    queue.start(Runtime(services), 2)
    try:
        _until(lambda: len(runs) == 3 and queue.stats()[0] == 0)
    finally:
        queue.stop()
    times = [t for _, _, t in runs]
    assert times[1] - times[0] >= 0.3 * 0.9  # first retry after FLYWHEEL_QUEUE_BACKOFF
    assert times[2] - times[1] >= 0.6 * 0.9  # then twice that
    assert queue.stats() == (0, 0.0)


def test_a_job_is_given_up_after_the_last_attempt(tmp_path: Path, runs: list[Any], services: Services) -> None:
    queue, _ = _queue(tmp_path, queue_backoff=0.05)
    queue.enqueue("test-broken", {"n": 1})
    queue.start(Runtime(services), 1)
    try:
        _until(lambda: queue.stats()[0] == 0)
        time.sleep(0.3)  # no fourth run comes
    finally:
        queue.stop()
    assert len(runs) == 3
    assert queue._q.ack_failed_count() == 1
    assert queue.failed() == 1  # kept, and counted on /metrics
    again, _ = _queue(tmp_path)  # the next start keeps it too (a person looks at it, nothing deletes it)
    assert again.failed() == 1


def test_a_job_naming_no_task_is_given_up_at_once(tmp_path: Path, runs: list[Any], services: Services) -> None:
    """A job written by another version (or forged) is not retried: retrying cannot help, and it is kept."""
    queue, _ = _queue(tmp_path, queue_backoff=5.0)
    queue.enqueue("no-such-task", {"n": 1})
    queue.enqueue("test-record", {"n": 2})
    queue.start(Runtime(services), 1)
    try:
        _until(lambda: queue.stats()[0] == 0, timeout=4)  # within the first backoff: no retry was scheduled
    finally:
        queue.stop()
    assert [(name, n) for name, n, _ in runs] == [("record", 2)]
    assert queue.failed() == 1


def test_several_threads_run_each_job_exactly_once(tmp_path: Path, runs: list[Any], services: Services) -> None:
    queue, _ = _queue(tmp_path)
    for n in range(60):
        queue.enqueue("test-record", {"n": n})
    queue.start(Runtime(services), 4)
    try:
        _until(lambda: queue.stats()[0] == 0)
    finally:
        queue.stop()
    assert sorted(n for _, n, _ in runs) == list(range(60))


def test_a_key_is_queued_once_until_its_job_ran(tmp_path: Path, runs: list[Any], services: Services) -> None:
    queue, _ = _queue(tmp_path)
    queue.enqueue("test-record", {"n": 1}, key="k")
    queue.enqueue("test-record", {"n": 2}, key="k")
    assert queue.stats()[0] == 1
    queue.start(Runtime(services), 1)
    try:
        _until(lambda: queue.stats()[0] == 0)
        queue.enqueue("test-record", {"n": 3}, key="k")  # done: the key is free again
        _until(lambda: len(runs) == 2)
    finally:
        queue.stop()
    assert [n for _, n, _ in runs] == [1, 3]


def test_a_job_taken_by_a_dead_process_runs_at_the_next_start(tmp_path: Path, runs: list[Any],
                                                               services: Services) -> None:
    queue, settings = _queue(tmp_path)
    queue.enqueue("test-record", {"n": 7})
    taken = queue._q.get(raw=True)  # taken, never acknowledged: as a process killed mid-job leaves it
    assert taken["data"]["payload"] == {"n": 7}
    assert queue.stats()[0] == 1  # still counted as not finished
    reopened = build_queue(settings)  # the next start
    reopened.start(Runtime(services), 1)
    try:
        _until(lambda: len(runs) == 1)
    finally:
        reopened.stop()
    assert runs[0][1] == 7


def test_metrics_show_the_depth_and_the_oldest_jobs_age(tmp_path: Path, services: Services) -> None:
    services.settings = Settings(_env_file=None, database_url=f"sqlite:///{tmp_path / 'm.db'}")  # type: ignore[call-arg]
    stop = start_jobs(services, client=None, with_worker=False)  # queue only: nothing consumes
    try:
        assert services.queue is not None
        services.queue.enqueue("noop", {})
        services.queue.enqueue("noop", {})
        time.sleep(0.05)
        text = Metrics(services).render().decode()
    finally:
        stop()
    assert "flywheel_queue_depth 2.0" in text and "flywheel_queue_failed_jobs 0.0" in text
    age = float(text.split("\nflywheel_queue_oldest_age_seconds ")[1].split()[0])
    assert 0.05 <= age < 30
