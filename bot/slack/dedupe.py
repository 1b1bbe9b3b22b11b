"""The ack path (docs/ARCHITECTURE.md, "The ack path"): drop redelivered events cheaply, hand the work off.

Slack wants every request answered within 3 s, and our goal is 300 ms under load, so nothing on the request
thread may wait on the database, a model or a busy thread pool:

* `make_dedupe_middleware` drops redelivered Events API deliveries (Slack's retries, a second instance). An
  `event_id` this process has seen (a bounded in-memory LRU) is dropped at once. A new one is recorded in
  `processed_events` (`bot.services.events`, the gate shared by every instance) by the `record` lane; the
  ack waits for that record at most `RECORD_WAIT` seconds. Decided in time: a duplicate is dropped, a
  database that can't record it is answered 503 (Slack delivers it again), a first delivery goes on to its
  listener. Not decided in time (a busy SQLite writer, an exhausted pool): the event is acked 200 now, and
  the record lane dispatches it again once the record says it is the first delivery.
* `Lanes` is the app's listener executor: event listeners and slow work run in the `work` lane, the
  listeners that must call `ack()` themselves (commands, buttons, modals) in the `ack` lane, which slow work
  never fills. A command hands its slow part to `Lanes.handoff` right after acking.
* `Coalescer` runs one job per key at a time; a request for a key that is running makes it run once more
  after (two App Home opens at once: one build, then one more with the latest data).

Interactivity payloads carry no event_id and pass the dedupe untouched.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Literal

from slack_bolt import BoltRequest, BoltResponse

from bot.services import Services, events

log = logging.getLogger(__name__)

PRUNE_EVERY_SECONDS = 3600.0  # old processed event ids are forgotten at most once an hour
RECORD_WAIT = 0.05  # seconds an event's ack waits for its dedupe record before acking anyway
RECENT_IDS = 10_000  # event ids this process remembers (Slack retries within minutes)
RECORDED = "flywheel_recorded"  # context key of a request dispatched again once its record was written
ACK_THREADS, WORK_THREADS, RECORD_THREADS = 16, 16, 6

Next = Callable[[], "BoltResponse | None"]
Middleware = Callable[..., "BoltResponse | None"]
Lane = Literal["ack", "work"]


class RecentIds:
    """The event ids this process has seen lately (bounded, oldest forgotten first); thread-safe."""

    def __init__(self, size: int = RECENT_IDS) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._size, self._lock = size, threading.Lock()

    def add(self, key: str) -> bool:
        """True the first time `key` is added (since it was forgotten), False when it is already there."""
        with self._lock:
            if key in self._ids:
                self._ids.move_to_end(key)
                return False
            self._ids[key] = None
            if len(self._ids) > self._size:
                self._ids.popitem(last=False)
            return True

    def forget(self, key: str) -> None:
        with self._lock:
            self._ids.pop(key, None)


class Lanes(Executor):
    """Bolt's listener executor, in three thread pools: `ack` (listeners that ack themselves), `work` (event
    listeners, handed-off work, lazy listeners) and `record` (dedupe records). `choose_lane` (a middleware)
    picks the lane of the listener the current request thread is about to submit."""

    def __init__(self, *, ack_threads: int = ACK_THREADS, work_threads: int = WORK_THREADS,
                 record_threads: int = RECORD_THREADS) -> None:
        self.ack = ThreadPoolExecutor(ack_threads, thread_name_prefix="flywheel-ack")
        self.work = ThreadPoolExecutor(work_threads, thread_name_prefix="flywheel-work")
        self.record = ThreadPoolExecutor(record_threads, thread_name_prefix="flywheel-record")
        self._lane = threading.local()

    def choose_lane(self, body: dict[str, Any], next: Next) -> BoltResponse | None:  # noqa: A002 - Bolt's name
        """Middleware: Events API deliveries are acked by Bolt before their listener runs (work lane); the rest
        (commands, buttons, modals, options) must call ack() from their listener (ack lane)."""
        is_event = isinstance(body, dict) and body.get("type") == "event_callback"
        self._lane.name = "work" if is_event else "ack"
        return next()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        lane: Lane = getattr(self._lane, "name", "ack")
        return (self.work if lane == "work" else self.ack).submit(fn, *args, **kwargs)

    def handoff(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        """Run slow work after the ack, in the work lane."""
        return self.work.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        # In this order: records dispatch events into the work lane, acked listeners hand work off to it.
        for pool in (self.record, self.ack, self.work):
            pool.shutdown(wait=wait, cancel_futures=cancel_futures)


class Coalescer:
    """One run per key at a time: `run(key, job)` while `key` runs makes it run once more when done (and
    returns False at once); requests that arrive meanwhile fold into that one extra run."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state: dict[str, bool] = {}  # key -> "run again when done"

    def run(self, key: str, job: Callable[[], Any]) -> bool:
        with self._lock:
            if key in self._state:
                self._state[key] = True
                return False
            self._state[key] = False
        try:
            while True:
                job()
                with self._lock:
                    if not self._state[key]:
                        return True
                    self._state[key] = False
        finally:
            with self._lock:
                self._state.pop(key, None)


def _again(request: BoltRequest) -> BoltRequest:
    """The same delivery, marked as recorded, for `app.dispatch` from another thread."""
    body: Any = request.raw_body if request.mode == "http" else request.body
    return BoltRequest(body=body, headers=dict(request.headers), context={RECORDED: True}, mode=request.mode)


def make_dedupe_middleware(services: Services, *, clock: Callable[[], float] = time.monotonic,
                           lanes: Lanes | None = None, dispatch: Callable[[BoltRequest], Any] | None = None,
                           wait: float = RECORD_WAIT) -> Middleware:
    """The middleware for `app.use(...)`. Without `lanes` and `dispatch` the record is written on the request
    thread (the ack waits for it); with them, the ack waits at most `wait` seconds."""
    next_prune = [0.0]
    recent = RecentIds()

    def record(event_id: str) -> bool:
        first = events.first_delivery(services, event_id)
        if clock() >= next_prune[0]:
            next_prune[0] = clock() + PRUNE_EVERY_SECONDS
            try:
                events.prune(services)
            except Exception:  # noqa: BLE001 - housekeeping; the next hour tries again
                log.exception("pruning processed events failed")
        return first

    def later(future: Future[bool], request: BoltRequest, event_id: str, retry: str | None) -> None:
        """The record arrived after the ack: dispatch the delivery again if it was the first."""
        try:
            first = future.result()
        except Exception:  # noqa: BLE001 - already acked: Slack won't retry; a retry it sends is processed
            recent.forget(event_id)
            log.exception("event acked but not recorded, dropped event_id=%r retry=%r", event_id, retry)
            return
        if not first:
            log.info("duplicate event dropped after the ack event_id=%r retry=%r", event_id, retry)
        elif dispatch is not None:
            dispatch(_again(request))

    def dedupe_events(body: dict[str, Any], request: BoltRequest, next: Next) -> BoltResponse | None:  # noqa: A002
        """Events API deliveries only (interactivity has no event_id): a redelivery is acked and dropped."""
        if not isinstance(body, dict) or body.get("type") != "event_callback" or request.context.get(RECORDED):
            return next()
        event_id = body.get("event_id")
        if not isinstance(event_id, str) or not events.valid_event_id(event_id):
            log.warning("event without a usable event_id processed without dedupe type=%r",
                        (body.get("event") or {}).get("type") if isinstance(body.get("event"), dict) else None)
            return next()
        retries = request.headers.get("x-slack-retry-num") or []
        retry = retries[0] if retries else None
        if not recent.add(event_id):
            log.info("duplicate event dropped event_id=%r retry=%r", event_id, retry)
            return BoltResponse(status=200, body="")
        future: Future[bool] = Future()
        if lanes is None or dispatch is None:
            try:
                future.set_result(record(event_id))
            except Exception as exc:  # noqa: BLE001 - reported below
                future.set_exception(exc)
        else:
            future = lanes.record.submit(record, event_id)
        try:
            first = future.result(timeout=None if lanes is None or dispatch is None else wait)
        except FutureTimeout:  # a busy writer: ack now, go on when the record is in
            future.add_done_callback(lambda done: later(done, request, event_id, retry))
            return BoltResponse(status=200, body="")
        except Exception:  # noqa: BLE001 - the database is unreachable: let Slack deliver it again later
            recent.forget(event_id)
            log.exception("event not recorded, asking Slack to retry event_id=%r retry=%r", event_id, retry)
            return BoltResponse(status=503, body={"error": "temporarily_unavailable"})
        if not first:
            log.info("duplicate event dropped event_id=%r retry=%r", event_id, retry)
            return BoltResponse(status=200, body="")
        return next()

    return dedupe_events
