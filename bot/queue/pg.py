"""The scale path (PostgreSQL): procrastinate. Jobs are rows of `procrastinate_jobs`, deferred by the web
process and run by `flywheel worker` processes on any number of machines (SELECT … FOR UPDATE SKIP LOCKED:
a job goes to one worker; LISTEN/NOTIFY wakes them at once).

* Retries: `Backoff` (FLYWHEEL_QUEUE_MAX_ATTEMPTS tries, FLYWHEEL_QUEUE_BACKOFF seconds doubling).
* A killed worker: its heartbeat stops (FLYWHEEL_QUEUE_HEARTBEAT); after 3x that every live worker's
  `retry_stalled` loop puts its running jobs back to be run again (tasks are idempotent).
* The schema is procrastinate's own, applied by `ensure_schema` (`flywheel init`, worker and serve start):
  idempotent, under an advisory lock so two processes starting together apply it once.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any, LiteralString

import procrastinate
import psycopg
from procrastinate.jobs import Job
from procrastinate.schema import SchemaManager
from sqlalchemy.engine import make_url

from bot.queue import registry, tasks

log = logging.getLogger(__name__)

QUEUE = "flywheel"
SCHEMA_LOCK = 7_431_202  # pg_advisory_xact_lock key while the schema is applied
STALLED_FACTOR = 3  # heartbeats missed before a worker counts as dead


def conninfo(database_url: str) -> str:
    """The libpq URL of a SQLAlchemy one (`postgresql+psycopg://…` -> `postgresql://…`), query kept."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def ensure_schema(database_url: str) -> bool:
    """Apply procrastinate's schema if it is missing. True if it was applied now."""
    with psycopg.connect(conninfo(database_url)) as conn:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
        row = conn.execute("SELECT to_regclass('procrastinate_jobs')").fetchone()
        if row is not None and row[0] is not None:
            return False
        conn.execute(SchemaManager.get_schema().encode())  # no parameters: sent as is
        conn.commit()
    log.info("work queue schema applied (procrastinate)")
    return True


class Backoff(procrastinate.BaseRetryStrategy):
    """The retry schedule of `registry.backoff`, given up after FLYWHEEL_QUEUE_MAX_ATTEMPTS runs."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> procrastinate.RetryDecision | None:
        attempt = job.attempts + 1  # runs so far, this one included
        if attempt >= self.settings.queue_max_attempts:
            log.warning("job given up task=%r attempt=%d", job.task_name, attempt)
            return None
        return procrastinate.RetryDecision(retry_in={"seconds": round(registry.backoff(self.settings, attempt))})


def _runner(name: str) -> Any:
    def run_job(context: procrastinate.JobContext, payload: dict[str, Any]) -> None:
        tasks.run(context.additional_context["runtime"], name, payload)
        log.info("job done task=%r job_id=%r", name, context.job.id if context.job else None)

    run_job.__name__ = f"run_{name.replace('-', '_')}"
    return run_job


def make_app(database_url: str, settings: Any, *, pool_size: int = 4) -> procrastinate.App:
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(
        conninfo=conninfo(database_url), min_size=1, max_size=pool_size))
    for name in tasks.tasks():
        app.task(name=name, queue=QUEUE, pass_context=True, retry=Backoff(settings))(_runner(name))
    return app


class PgQueue:
    """The web process's side: defers jobs (synchronously) and reads the queue's depth."""

    distributed = True

    def __init__(self, database_url: str, settings: Any) -> None:
        self.database_url, self.settings = database_url, settings
        self.app = make_app(database_url, settings, pool_size=2).open()

    def enqueue(self, task: str, payload: dict[str, Any], *, key: str | None = None) -> None:
        try:
            self.app.configure_task(name=task, queueing_lock=key).defer(payload=payload)
        except procrastinate.exceptions.AlreadyEnqueued:
            log.info("job already queued task=%r", task)
            return
        log.info("job queued task=%r", task)

    def _one(self, query: LiteralString, **params: Any) -> dict[str, Any]:
        """One row, read on the queue's own pool: a `/metrics` scrape or a gatherer's look opens no connection."""
        return self.app.connector.get_sync_connector().execute_query_one(query, **params)

    def stats(self) -> tuple[int, float]:
        row = self._one(
            "SELECT count(*) AS n, EXTRACT(EPOCH FROM now() - min(e.at)) AS age FROM procrastinate_jobs j"
            " LEFT JOIN LATERAL (SELECT min(at) AS at FROM procrastinate_events WHERE job_id = j.id) e ON true"
            " WHERE j.status IN ('todo', 'doing')")
        return int(row["n"] or 0), float(row["age"] or 0.0)

    def failed(self) -> int:
        """Jobs given up after their last attempt (procrastinate keeps them, status 'failed')."""
        return int(self._one("SELECT count(*) AS n FROM procrastinate_jobs WHERE status = 'failed'")["n"] or 0)

    def unfinished(self, task: str, *, batch: str | None = None) -> int:
        """Jobs of `task` waiting or running (of one `batch` only, when given: the payload's "batch", stored in
        the JSONB `args` as {"payload": {...}}), counted on the queue's pool (a gatherer asks while it waits)."""
        row = self._one(
            "SELECT count(*) AS n FROM procrastinate_jobs WHERE task_name = %(task)s AND status IN ('todo', 'doing')"
            " AND (%(batch)s::text IS NULL OR args -> 'payload' ->> 'batch' = %(batch)s::text)",
            task=task, batch=batch)
        return int(row["n"])

    def close(self) -> None:
        self.app.close()


async def _retry_stalled(app: procrastinate.App, heartbeat: float) -> None:
    """Put the running jobs of dead workers (no heartbeat for STALLED_FACTOR beats) back in the queue."""
    while True:
        try:
            for job in await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=heartbeat * STALLED_FACTOR):
                log.warning("job of a dead worker retried task=%r job_id=%r", job.task_name, job.id)
                await app.job_manager.retry_job(job)
        except Exception:  # noqa: BLE001 - the next round tries again
            log.exception("looking for stalled jobs failed")
        await asyncio.sleep(heartbeat)


async def _work(app: procrastinate.App, runtime: registry.Runtime, concurrency: int, *,
                install_signal_handlers: bool, name: str | None) -> None:
    heartbeat = float(runtime.services.settings.queue_heartbeat)
    async with app.open_async():
        watcher = asyncio.create_task(_retry_stalled(app, heartbeat))
        try:
            await app.run_worker_async(
                queues=[QUEUE], concurrency=concurrency, name=name or "worker", wait=True,
                additional_context={"runtime": runtime}, install_signal_handlers=install_signal_handlers,
                update_heartbeat_interval=heartbeat, stalled_worker_timeout=heartbeat * STALLED_FACTOR,
                fetch_job_polling_interval=min(heartbeat, 5.0), delete_jobs="successful")
        finally:
            watcher.cancel()


def run_worker(runtime: registry.Runtime, concurrency: int, *, install_signal_handlers: bool = True,
               name: str | None = None) -> None:
    """Run jobs until SIGTERM/SIGINT (procrastinate's handlers: no new job, the running ones finish)."""
    settings = runtime.services.settings
    app = make_app(settings.database_url, settings, pool_size=concurrency + 2)
    asyncio.run(_work(app, runtime, concurrency, install_signal_handlers=install_signal_handlers, name=name))


class WorkerThread:
    """A procrastinate worker inside `flywheel serve` (FLYWHEEL_INPROCESS_WORKER / --with-worker on PostgreSQL),
    on its own event loop in a thread; `stop` lets the running jobs finish."""

    def __init__(self, runtime: registry.Runtime, concurrency: int) -> None:
        self.runtime, self.concurrency = runtime, concurrency
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._thread = threading.Thread(target=self._main, name="flywheel-worker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _main(self) -> None:
        settings = self.runtime.services.settings
        app = make_app(settings.database_url, settings, pool_size=self.concurrency + 2)
        loop = self._loop = asyncio.new_event_loop()
        self._task = loop.create_task(_work(app, self.runtime, self.concurrency, install_signal_handlers=False,
                                            name="in-process"))
        try:
            loop.run_until_complete(self._task)
        except asyncio.CancelledError:
            pass
        except Exception:  # noqa: BLE001 - the web process keeps serving; jobs wait for a worker
            log.exception("in-process worker stopped")
        finally:
            loop.close()

    def stop(self, timeout: float = 30.0) -> None:
        if self._loop is not None and self._task is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._task.cancel)
        self._thread.join(timeout)
