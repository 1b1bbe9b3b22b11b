"""The embedded queue (SQLite, one process): persist-queue's `SQLiteAckQueue` in a file beside the database,
consumed by threads of `flywheel serve` / `flywheel run`.

* `enqueue` writes the job to the file before returning (durable at once); a `key` already pending is skipped.
* A consumer `get`s a job (the row becomes "unack"), runs it, then `ack`s it. A process killed mid-job leaves
  the row unacked: the next start puts it back (`auto_resume`) and the job runs again (tasks are idempotent).
* A job that raises is retried: its attempt and not-before time are written into the row (`update`), it stays
  unacked until then (a timer `nack`s it when due), and after FLYWHEEL_QUEUE_MAX_ATTEMPTS it is `ack_failed`.
  The delay is `registry.backoff` (FLYWHEEL_QUEUE_BACKOFF, doubling). That schedule is the only home-made part.
"""

from __future__ import annotations

import heapq
import logging
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import persistqueue
from persistqueue.exceptions import Empty
from persistqueue.serializers import json as json_serializer

from bot.queue import registry, tasks

log = logging.getLogger(__name__)

TABLE = "ack_queue_default"  # persist-queue's table for name="default"
POLL = 0.2  # seconds a consumer waits for a job before looking at its stop flag and the delayed jobs
CLEAN_EVERY = 200  # acks between clean-ups of acked rows


def queue_path(database_url: str) -> Path | None:
    """`flywheel.db` -> `flywheel.db-queue` beside it; None for an in-memory database (nothing durable)."""
    path = database_url.split("///", 1)[1] if "///" in database_url else ""
    if not path or path == ":memory:" or path.startswith("file::memory:"):
        return None
    return Path(path.split("?", 1)[0]).resolve().with_name(Path(path.split("?", 1)[0]).name + "-queue")


class LocalQueue:
    distributed = False

    def __init__(self, path: Path, settings: Any) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.settings = path, settings
        self._q = persistqueue.SQLiteAckQueue(str(path.parent), db_file_name=path.name, multithreading=True,
                                              auto_resume=True, serializer=json_serializer)
        self._q.clear_acked_data(keep_latest=100, clear_ack_failed=False)  # failed jobs stay: /metrics counts them
        self._lock = threading.Lock()
        self._delayed: list[tuple[float, int]] = []  # (not before, row id) of retries waiting, still unacked
        self._keys = {row["data"].get("key") for row in self._q.queue() if int(row["status"]) < 5} - {None}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._acks = 0

    # --- producing -----------------------------------------------------------------------------------
    def enqueue(self, task: str, payload: dict[str, Any], *, key: str | None = None) -> None:
        with self._lock:
            if key is not None and key in self._keys:
                log.info("job already queued task=%r", task)
                return
            if key is not None:
                self._keys.add(key)
        self._q.put({"task": task, "payload": payload, "key": key, "attempt": 1, "not_before": 0.0})
        log.info("job queued task=%r", task)

    def stats(self) -> tuple[int, float]:
        """(jobs not finished, age in seconds of the oldest), read from the file."""
        with sqlite3.connect(self.path, timeout=5) as conn:
            count, oldest = conn.execute(f"SELECT COUNT(*), MIN(timestamp) FROM {TABLE} WHERE status < 5").fetchone()
        return int(count or 0), max(time.time() - oldest, 0.0) if oldest else 0.0

    def failed(self) -> int:
        """Jobs given up after their last attempt (persist-queue's `ack_failed` rows, kept in the file)."""
        with sqlite3.connect(self.path, timeout=5) as conn:
            (count,) = conn.execute(f"SELECT COUNT(*) FROM {TABLE} WHERE status = 9").fetchone()
        return int(count or 0)

    def unfinished(self, task: str, *, batch: str | None = None) -> int:
        """Jobs of `task` not finished (of one `batch` only, when given: the payload's "batch"). Each row's `data`
        is the job as JSON bytes ({"task", "payload", ...}), read as text by SQLite's JSON functions."""
        with sqlite3.connect(self.path, timeout=5) as conn:
            (count,) = conn.execute(
                f"SELECT COUNT(*) FROM {TABLE} WHERE status < 5 AND json_extract(CAST(data AS TEXT), '$.task') = ?"
                " AND (? IS NULL OR json_extract(CAST(data AS TEXT), '$.payload.batch') = ?)",
                (task, batch, batch)).fetchone()
        return int(count or 0)

    # --- consuming -----------------------------------------------------------------------------------
    def start(self, runtime: registry.Runtime, threads: int) -> None:
        tasks.tasks()  # load the task modules before the first job
        self._stop.clear()
        for i in range(threads):
            t = threading.Thread(target=self._consume, args=(runtime,), name=f"flywheel-job-{i}", daemon=True)
            t.start()
            self._threads.append(t)
        log.info("in-process job consumers started threads=%d", threads)

    def stop(self, timeout: float = 30.0) -> None:
        """No new job starts; the jobs running finish (up to `timeout`); what is left stays in the file."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(deadline - time.monotonic(), 0.0))
        self._threads = [t for t in self._threads if t.is_alive()]

    def _release_due(self) -> None:
        now = time.time()
        with self._lock:
            due = []
            while self._delayed and self._delayed[0][0] <= now:
                due.append(heapq.heappop(self._delayed)[1])
        for row_id in due:
            self._q.nack(id=row_id)

    def _consume(self, runtime: registry.Runtime) -> None:
        while not self._stop.is_set():
            self._release_due()
            try:
                raw = self._q.get(block=True, timeout=POLL, raw=True)
            except Empty:
                continue
            row_id, job = int(raw["pqid"]), raw["data"]
            if float(job.get("not_before") or 0) > time.time():  # a retry resumed early by a restart
                with self._lock:
                    heapq.heappush(self._delayed, (float(job["not_before"]), row_id))
                continue
            self._run(runtime, row_id, job)

    def _run(self, runtime: registry.Runtime, row_id: int, job: dict[str, Any]) -> None:
        task, attempt = str(job["task"]), int(job.get("attempt") or 1)
        try:
            tasks.run(runtime, task, job["payload"])
        except tasks.UnknownTask:
            log.error("job given up at once: no such task task=%r", task[:80])
            self._done(row_id, job, failed=True)
            return
        except Exception:  # noqa: BLE001 - a job's failure is retried, never the consumer's end
            if attempt >= self.settings.queue_max_attempts:
                log.exception("job given up task=%r attempt=%d", task, attempt)
                self._done(row_id, job, failed=True)
                return
            wait = registry.backoff(self.settings, attempt)
            log.exception("job failed task=%r attempt=%d retry_in=%.1fs", task, attempt, wait)
            retry = {**job, "attempt": attempt + 1, "not_before": time.time() + wait}
            self._q.update(retry, id=row_id)
            with self._lock:
                heapq.heappush(self._delayed, (retry["not_before"], row_id))
            return
        self._done(row_id, job, failed=False)
        log.info("job done task=%r attempt=%d", task, attempt)

    def _done(self, row_id: int, job: dict[str, Any], *, failed: bool) -> None:
        (self._q.ack_failed if failed else self._q.ack)(id=row_id)
        with self._lock:
            self._keys.discard(job.get("key"))
            self._acks += 1
            clean = self._acks % CLEAN_EVERY == 0
        if clean:
            self._q.clear_acked_data(keep_latest=100)
