"""Bolt middleware that drops redelivered Events API deliveries (docs/RELIABILITY.md).

An event whose `event_id` was already processed (Slack's retries, a second instance) is answered 200 and
dropped (`bot.services.events`); when the database can't record it, Slack is asked to deliver it again
(503). Interactivity payloads carry no event_id and pass through.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from slack_bolt import BoltRequest, BoltResponse

from bot.services import Services, events

log = logging.getLogger(__name__)

PRUNE_EVERY_SECONDS = 3600.0  # old processed event ids are forgotten at most once an hour

Next = Callable[[], "BoltResponse | None"]
Middleware = Callable[[dict[str, Any], BoltRequest, Next], "BoltResponse | None"]


def make_dedupe_middleware(services: Services, *,
                           clock: Callable[[], float] = time.monotonic) -> Middleware:
    """The middleware for `app.use(...)`; prunes old event ids at most every PRUNE_EVERY_SECONDS."""
    next_prune = [0.0]

    def dedupe_events(body: dict[str, Any], request: BoltRequest, next: Next) -> BoltResponse | None:  # noqa: A002
        """Events API deliveries only (interactivity has no event_id): a redelivery is acked and dropped."""
        if not isinstance(body, dict) or body.get("type") != "event_callback":
            return next()
        event_id = body.get("event_id")
        if not isinstance(event_id, str) or not events.valid_event_id(event_id):
            log.warning("event without a usable event_id processed without dedupe type=%r",
                        (body.get("event") or {}).get("type") if isinstance(body.get("event"), dict) else None)
            return next()
        retries = request.headers.get("x-slack-retry-num") or []
        retry = retries[0] if retries else None
        try:
            first = events.first_delivery(services, event_id)
        except Exception:  # noqa: BLE001 - the database is unreachable: let Slack deliver it again later
            log.exception("event not recorded, asking Slack to retry event_id=%r retry=%r", event_id, retry)
            return BoltResponse(status=503, body={"error": "temporarily_unavailable"})
        if clock() >= next_prune[0]:
            next_prune[0] = clock() + PRUNE_EVERY_SECONDS
            try:
                events.prune(services)
            except Exception:  # noqa: BLE001 - housekeeping; the next hour tries again
                log.exception("pruning processed events failed")
        if not first:
            log.info("duplicate event dropped event_id=%r retry=%r", event_id, retry)
            return BoltResponse(status=200, body="")
        return next()

    return dedupe_events
