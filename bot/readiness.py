"""GET /readyz: is this process ready for traffic? The database answers, its schema is at the code's
migration head, and Slack accepts the bot token (auth.test). Results are cached for `TTL` seconds, so a
load balancer polling every second costs one auth.test per TTL.

    200 {"ok": true, "checks": {"database": "ok", "migrations": "ok", "slack": "ok"}}
    503 {"ok": false, "failed": ["migrations"], "checks": {..., "migrations": "at 0005, expected 0006: run
         `flywheel init`"}}

Check messages are written here (error codes, revisions), never exception text (it can carry a URL).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

from bot.services import Services
from storage.db import MIGRATIONS

log = logging.getLogger(__name__)

TTL = 5.0
OK = "ok"


def head_revision() -> str | None:
    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def database_checks(engine: Engine) -> dict[str, str]:
    """{"database": ..., "migrations": ...}: "ok" or what is wrong and how to fix it."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            current = MigrationContext.configure(conn).get_current_revision()
    except Exception:  # noqa: BLE001 - reported as a failed check
        log.exception("readiness: database unreachable")
        return {"database": "unreachable: check DATABASE_URL and that the server is up",
                "migrations": "unknown (database unreachable)"}
    head = head_revision()
    if current == head:
        return {"database": OK, "migrations": OK}
    return {"database": OK, "migrations": f"at {current or 'no schema'}, expected {head}: run `flywheel init`"}


def slack_check(client: Any) -> str:
    from slack_sdk.errors import SlackApiError

    from bot.slack.client import bot_identity, error_code

    try:
        bot_identity(client)
    except SlackApiError as exc:
        return f"auth.test failed: {error_code(exc)} (check SLACK_BOT_TOKEN)"
    except Exception as exc:  # noqa: BLE001 - network errors and the like
        log.warning("readiness: auth.test failed error=%s", type(exc).__name__)
        return f"auth.test failed: {type(exc).__name__} (is SLACK_API_URL reachable?)"
    return OK


class Readiness:
    """The checks above, cached for `ttl` seconds (thread-safe; one probe at a time)."""

    def __init__(self, services: Services, client: Any, *, ttl: float = TTL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.services, self.client, self.ttl, self.clock = services, client, ttl, clock
        self._lock = threading.Lock()
        self._cached: tuple[float, dict[str, str]] | None = None

    def checks(self) -> dict[str, str]:
        with self._lock:
            now = self.clock()
            if self._cached is not None and now - self._cached[0] < self.ttl:
                return self._cached[1]
            result = {**database_checks(self.services.engine), "slack": slack_check(self.client)}
            self._cached = (now, result)
            return result

    def report(self) -> tuple[bool, dict[str, Any]]:
        checks = self.checks()
        failed = [name for name, value in checks.items() if value != OK]
        return not failed, {"ok": not failed, "failed": failed, "checks": checks}
