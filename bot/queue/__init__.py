"""The durable work queue: every slow step (outline, draft, shadow test, publish and verdict, regression cases)
is a named job with a JSON payload of ids, run by the backend the database implies (docs/ARCHITECTURE.md,
"Work queue"):

* SQLite (`flywheel serve` / `flywheel run`, one process): persist-queue, a file beside the database, consumed
  by threads of the same process (`bot/queue/local.py`);
* PostgreSQL: procrastinate, deferred by the web process and run by `flywheel worker` processes
  (`bot/queue/pg.py`), or by a worker inside serve (FLYWHEEL_INPROCESS_WORKER, `serve --with-worker`).

Producers call `services.queue.enqueue(task, payload, key=...)` (through `handlers.flows.later`); the tasks are
registered in `bot/queue/tasks.py` and run with a `registry.Runtime`.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any

from bot.queue.registry import Runtime, backoff
from bot.services import Services

log = logging.getLogger(__name__)

__all__ = ["Runtime", "backoff", "build_queue", "inprocess", "is_postgres", "start_jobs"]


def is_postgres(database_url: str) -> bool:
    return database_url.startswith("postgresql")


def build_queue(settings: Any) -> Any:
    """The queue of `settings.database_url`: `PgQueue` (schema applied if missing), `LocalQueue`, or None for
    an in-memory SQLite database (nothing could survive a restart: the work runs inline)."""
    if is_postgres(settings.database_url):
        from bot.queue.pg import PgQueue, ensure_schema

        ensure_schema(settings.database_url)
        return PgQueue(settings.database_url, settings)
    from bot.queue.local import LocalQueue, queue_path

    path = queue_path(settings.database_url)
    return LocalQueue(path, settings) if path is not None else None


def inprocess(settings: Any, with_worker: bool | None) -> bool:
    """Run jobs inside serve/run? `--with-worker`, else FLYWHEEL_INPROCESS_WORKER, else true on SQLite only."""
    if with_worker is not None:
        return with_worker
    if settings.inprocess_worker is not None:
        return bool(settings.inprocess_worker)
    return not is_postgres(settings.database_url)


def start_jobs(services: Services, client: Any, *, with_worker: bool | None = None) -> Callable[[], None]:
    """For serve/run: give `services` its queue and start the in-process consumers if configured. Returns the
    function that stops them (no new job starts; running ones finish; the rest stays queued)."""
    queue = build_queue(services.settings)
    services.queue = queue
    if queue is None:
        log.warning("in-memory database: slow work runs inline, nothing survives a restart")
        return lambda: None
    # Jobs run with services that have no queue: a job never waits for other jobs (a publish's regressions run
    # in it, not fanned out), so one worker can never deadlock on itself.
    runtime = Runtime(dataclasses.replace(services, queue=None), client)
    threads = services.settings.queue_workers
    if not inprocess(services.settings, with_worker):
        log.info("jobs are queued for `flywheel worker` processes")
        return getattr(queue, "close", lambda: None)
    if not queue.distributed:
        queue.start(runtime, threads)
        return queue.stop  # type: ignore[no-any-return]
    from bot.queue.pg import WorkerThread

    worker = WorkerThread(runtime, threads)
    worker.start()
    log.info("in-process worker started concurrency=%d", threads)

    def stop() -> None:
        worker.stop()
        queue.close()

    return stop
