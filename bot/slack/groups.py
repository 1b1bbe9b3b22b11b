"""Who is in the admin user group (`FLYWHEEL_ADMIN_GROUP`), for the permission checks in the services."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from slack_sdk import WebClient

from bot.slack.client import error_code, usergroup_members

log = logging.getLogger(__name__)

GROUP_CACHE_SECONDS = 60.0  # admin group membership: fresh enough, and one API call a minute at most


def make_group_resolver(client: WebClient, *, ttl: float = GROUP_CACHE_SECONDS,
                        clock: Callable[[], float] = time.monotonic) -> Callable[[str], frozenset[str]]:
    """Members of a Slack user group (`usergroups.users.list`, scope usergroups:read), cached for `ttl`
    seconds. When Slack can't answer, nobody is a member (fail closed: FLYWHEEL_ADMINS still work)."""
    cache: dict[str, tuple[float, frozenset[str]]] = {}
    lock = threading.Lock()

    def resolve(group_id: str) -> frozenset[str]:
        with lock:
            hit = cache.get(group_id)
            if hit is not None and clock() - hit[0] < ttl:
                return hit[1]
        try:
            members = usergroup_members(client, usergroup=group_id)
        except Exception as exc:  # noqa: BLE001 - a permission check must answer, not crash
            log.warning("admin group not resolved group=%r error=%r: only FLYWHEEL_ADMINS are admins",
                        group_id, error_code(exc))
            return frozenset()
        with lock:
            cache[group_id] = (clock(), members)
        return members

    return resolve
