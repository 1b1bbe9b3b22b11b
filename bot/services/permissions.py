"""Roles: who may publish, dismiss, run regress, post the digest now, share a replay and share the weekly
stats; and a per-user budget on the commands that spend model calls. Everyone else can flag, note and draft.

Checked inside the services, so every path (button, modal, slash command, CLI) meets one rule. Each action
has a setting (`FLYWHEEL_ROLE_<ACTION>`): `admins` (FLYWHEEL_ADMINS and FLYWHEEL_ADMIN_GROUP; when neither
is set, everyone, as a small team expects), `everyone`, or a comma-separated list of Slack user ids and user
group ids (`S…`), which may name `admins` too.

The local shell is trusted: the CLI, the scheduler and the demo act as the operator (`operator(name)`), who
may do everything without spending the budget; whoever can run `flywheel` can open the database anyway.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from bot.errors import FlywheelError, NotAllowed


class Action(StrEnum):
    PUBLISH = "publish"
    DISMISS = "dismiss"
    REGRESS = "regress"
    DIGEST_NOW = "digest_now"
    SHARE_REPLAY = "share_replay"
    SHARE_STATS = "share_stats"
    SETTINGS = "settings"


# What a refused person is told they could not do.
_VERBS = {Action.PUBLISH: "publish to the knowledge base", Action.DISMISS: "dismiss gaps",
          Action.REGRESS: "run the regression suite", Action.DIGEST_NOW: "post the digest now",
          Action.SHARE_REPLAY: "share a replay in the channel", Action.SHARE_STATS: "share the stats in the channel",
          Action.SETTINGS: "change settings"}

# The Slack layer sets this to resolve user group membership (usergroups.users.list).
GroupResolver = Callable[[str], frozenset[str]]
_GROUP_ID = re.compile(r"S[A-Z0-9]{2,}")


class Operator(str):
    """A name acting from the local shell (CLI, scheduler, demo): trusted. Slack payloads never make one."""

    __slots__ = ()


def operator(name: str) -> Operator:
    return Operator(name)


SCHEDULER = operator("scheduler")


class RateLimited(FlywheelError):
    """The user spent their model-call budget for now. Nothing was done."""


def _entries(settings: Any, action: Action) -> list[str]:
    if action in (Action.SETTINGS,):
        return ["admins"]
    raw = getattr(settings, f"role_{action.value}", "admins") or "admins"
    return [e.strip() for e in str(raw).split(",") if e.strip()]


def is_allowed(settings: Any, user: str | None, *, action: Action = Action.PUBLISH,
               resolve_group: GroupResolver | None = None) -> bool:
    """The rule, without side effects. `resolve_group` maps a user group id to its member ids."""
    if isinstance(user, Operator):
        return True
    groups: list[str] = []
    for entry in _entries(settings, action):
        if entry.lower() == "everyone":
            return True
        if entry.lower() == "admins":
            if not settings.admin_ids and not settings.admin_group:
                return True  # no admins configured: a small team where everyone may
            if user is not None and user in settings.admin_ids:
                return True
            if settings.admin_group:
                groups.append(settings.admin_group)
        elif user is not None and entry == user:
            return True
        elif _GROUP_ID.fullmatch(entry):
            groups.append(entry)
    if user is None or resolve_group is None:
        return False
    return any(user in resolve_group(group) for group in groups)


def require(services: Any, user: str | None, action: Action) -> None:
    """Raise NotAllowed (nothing changed) unless `user` may do `action`."""
    if is_allowed(services.settings, user, action=action, resolve_group=services.group_resolver):
        return
    setting = "FLYWHEEL_ROLE_" + action.value.upper()
    if [e.lower() for e in _entries(services.settings, action)] == ["admins"]:
        raise NotAllowed(f"Only Flywheel admins may {_VERBS[action]}. Ask one of them, or an admin can add you "
                         f"to FLYWHEEL_ADMINS (or open it up with {setting}).")
    raise NotAllowed(f"You don't have permission to {_VERBS[action]}; ask someone who does. An admin can "
                     f"change who may with {setting}.")


# --- the model-call budget ----------------------------------------------------------------------------
class TokenBucket:
    """Per-user buckets of `burst` calls refilled at `per_hour`, in this process's memory: several instances
    each keep their own (the limit is then per instance), and a restart refills everyone."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # user -> (tokens, at)

    def _level(self, user: str, burst: int, per_hour: int, now: float) -> float:
        tokens, at = self._buckets.get(user, (float(burst), now))
        return min(float(burst), tokens + (now - at) * per_hour / 3600.0)

    def take(self, user: str, *, burst: int, per_hour: int, peek: bool = False) -> float:
        """0 when a call was taken (or, with `peek`, could be); else the seconds to wait for one."""
        with self._lock:
            now = self.clock()
            tokens = self._level(user, burst, per_hour, now)
            if tokens < 1.0:
                return (1.0 - tokens) * 3600.0 / per_hour if per_hour else math.inf
            if not peek:
                self._buckets[user] = (tokens - 1.0, now)
                if len(self._buckets) > 10_000:  # bounded: drop the buckets that have refilled
                    self._buckets = {u: v for u, v in self._buckets.items()
                                     if self._level(u, burst, per_hour, now) < burst}
            return 0.0


def spend(services: Any, user: str | None, what: str, *, peek: bool = False) -> None:
    """Take one call from `user`'s model-call budget, or raise RateLimited. The operator and internal calls
    (user None) are not limited; FLYWHEEL_MODEL_CALLS_PER_HOUR=0 turns the limit off."""
    settings = services.settings
    per_hour, burst = settings.model_calls_per_hour, settings.model_calls_burst
    if user is None or isinstance(user, Operator) or per_hour <= 0:
        return
    wait = services.model_calls.take(user, burst=burst, per_hour=per_hour, peek=peek)
    if wait:
        seconds = max(1, math.ceil(wait))
        when = f"{seconds} seconds" if seconds < 120 else f"{math.ceil(seconds / 60)} minutes"
        raise RateLimited(f"You've used your model calls for now ({burst} in a row, then {per_hour} an hour), "
                          f"so I didn't {what}. Try again in {when}.")
