"""Graceful stop of `flywheel serve` and `flywheel run`.

SIGTERM (what Docker, systemd and Kubernetes send) and SIGINT ask the server to stop: it stops accepting,
finishes the requests in flight (FLYWHEEL_HTTP_SHUTDOWN_GRACE), then `stop_background` stops the scheduler
(no new job starts) and gives back the job claims this process holds, so the next start, or another
instance, resumes that work at once instead of after the claim's lease. The process then exits 0.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from typing import Any

from bot.services import Services
from bot.services.claims import release_process_claims

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def on_stop_signal(stop: Callable[[], None]) -> Callable[[], None]:
    """Call `stop` (once; it must not block) on SIGTERM or SIGINT. Returns a function restoring the old
    handlers. Only from the main thread (a no-op elsewhere, e.g. under a test runner's worker thread)."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    fired = threading.Event()

    def handle(signum: int, _frame: Any) -> None:
        if not fired.is_set():
            fired.set()
            log.info("stopping on signal=%s: finishing requests in flight", signal.Signals(signum).name)
            stop()

    previous = {sig: signal.signal(sig, handle) for sig in STOP_SIGNALS}

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore


def stop_background(services: Services, scheduler: Any, *, stop_jobs: Callable[[], None] | None = None) -> None:
    """Stop the scheduler (no new run starts), the in-process job consumers (`bot/queue`: the running jobs
    finish, the queued ones wait in the queue for the next start) and release the claims this process holds.
    Never raises: the process is on its way out, and a claim not released expires with its lease anyway."""
    try:
        scheduler.shutdown(wait=False)
    except Exception:  # noqa: BLE001 - e.g. it never started
        log.exception("scheduler shutdown failed")
    try:
        if stop_jobs is not None:
            stop_jobs()
    except Exception:  # noqa: BLE001 - what was not acknowledged runs again at the next start
        log.exception("stopping the job consumers failed")
    try:
        release_process_claims(services)
    except Exception:  # noqa: BLE001 - the lease expires on its own
        log.exception("releasing job claims failed")
