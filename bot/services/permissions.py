"""Who may publish to the KB, dismiss gaps or change settings. Everyone else can flag and draft.

Checked inside the services, so every path (button, modal, slash command, CLI) is covered by one rule.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

from bot.errors import NotAllowed


class Action(StrEnum):
    PUBLISH = "publish"
    DISMISS = "dismiss"
    SETTINGS = "change settings"


# The Slack layer sets this to resolve FLYWHEEL_ADMIN_GROUP membership (usergroups.users.list).
GroupResolver = Callable[[str], frozenset[str]]


def is_allowed(settings, user: str | None, *, group_members: frozenset[str] = frozenset()) -> bool:  # type: ignore[no-untyped-def]
    admins = settings.admin_ids
    if not admins and not settings.admin_group:
        return True  # no policy configured: a small team where everyone may publish
    return user is not None and (user in admins or user in group_members)


def require(services, user: str | None, action: Action) -> None:  # type: ignore[no-untyped-def]
    members: frozenset[str] = frozenset()
    resolver = getattr(services, "group_resolver", None)
    if services.settings.admin_group and resolver is not None:
        members = resolver(services.settings.admin_group)
    if not is_allowed(services.settings, user, group_members=members):
        raise NotAllowed(f"Only Flywheel admins may {action.value}. Ask one of them, or an admin can add you "
                         "to FLYWHEEL_ADMINS.")
