"""Slack event deduplication: every Events API delivery is processed once, across Slack's retries
(up to 3, the same `event_id`), restarts and several instances sharing one database.

The gate is a `ProcessedEvent` row inserted with ON CONFLICT DO NOTHING (SQLite and PostgreSQL): only the
delivery whose insert wrote the row goes on to the listeners. Interactivity and slash commands carry no
`event_id`; their handlers are idempotent by state checks instead.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, cast

from sqlalchemy import CursorResult, delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bot.services import Services
from storage.models import ProcessedEvent

log = logging.getLogger(__name__)

# Slack retries within ~5 minutes (with Delayed Events, hourly for 24 h): two days covers both.
KEEP = dt.timedelta(days=2)
EVENT_ID_MAX = 64  # the column's width; Slack's ids are ~12 characters


def valid_event_id(event_id: object) -> bool:
    return isinstance(event_id, str) and 0 < len(event_id) <= EVENT_ID_MAX


def first_delivery(services: Services, event_id: str) -> bool:
    """Record `event_id`: True the first time any instance sees it, False for a redelivery."""
    insert = pg_insert if services.engine.dialect.name == "postgresql" else sqlite_insert
    stmt = (insert(ProcessedEvent).values(event_id=event_id, received_at=services.clock())
            .on_conflict_do_nothing(index_elements=["event_id"]).returning(ProcessedEvent.event_id))
    with services.session() as s:
        return s.execute(stmt).scalar_one_or_none() is not None  # RETURNING: rowcount is -1 on psycopg


def prune(services: Services, *, keep: dt.timedelta = KEEP) -> int:
    """Forget event ids older than `keep` (Slack no longer redelivers them). Returns how many went."""
    with services.session() as s:
        old = delete(ProcessedEvent).where(ProcessedEvent.received_at < services.clock() - keep)
        gone = cast(CursorResult[Any], s.execute(old)).rowcount
    if gone:
        log.info("processed events pruned count=%d", gone)
    return gone or 0
