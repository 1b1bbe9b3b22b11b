"""What a job runs with: `Runtime` (the services and a Slack client), and `backoff`, the one retry schedule
of both backends. The tasks themselves are in `bot/queue/tasks.py`: `fn(runtime, payload)`, the payload JSON
of ids only (never customer text), each idempotent, because a job cut short by a crash runs again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.services import Services

log = logging.getLogger(__name__)

TaskFn = Callable[["Runtime", dict[str, Any]], None]


@dataclass
class Runtime:
    """What a job runs with, built once per process (serve, run or worker)."""

    services: Services
    client: Any = None  # a slack_sdk WebClient; built from the settings on first use when not given
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def slack(self) -> Any:
        with self._lock:
            if self.client is None:
                from bot.slack.client import make_web_client

                self.client = make_web_client(self.services.settings)
            return self.client


def backoff(settings: Any, attempt: int) -> float:
    """Seconds before retry number `attempt` (1, 2, …): FLYWHEEL_QUEUE_BACKOFF, doubling each time."""
    return float(settings.queue_backoff) * float(2 ** max(attempt - 1, 0))
