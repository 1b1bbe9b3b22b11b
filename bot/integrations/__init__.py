"""Connectors to the team's own systems: their agent, their knowledge base, their conversation sources.

Each connector is a small class behind an existing interface (`bot.agents.Agent`,
`bot.publishers.Publisher`, `bot.integrations.sources.Source`), chosen by name in the settings
(`bot.integrations.settings.IntegrationSettings`). Third-party connectors register entry points in the
groups below; docs/INTEGRATIONS.md documents every connector, setting and contract.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

from bot.errors import ConfigError

AGENTS_GROUP = "flywheel.agents"
PUBLISHERS_GROUP = "flywheel.publishers"
SOURCES_GROUP = "flywheel.sources"


def entry_point_names(group: str) -> list[str]:
    return sorted({ep.name for ep in entry_points(group=group)})


def load_entry_point(group: str, name: str, *, builtin: tuple[str, ...] = ()) -> Any:
    """The object an installed package registered as `name` in `group`; a clear error when there is none."""
    found = [ep for ep in entry_points(group=group) if ep.name == name]
    if not found:
        known = ", ".join([*builtin, *entry_point_names(group)])
        raise ConfigError(f"Unknown connector {name!r} (entry point group {group}). Known: {known}.")
    try:
        return found[0].load()
    except Exception as exc:  # noqa: BLE001 - any import error of a plug-in is a configuration problem
        raise ConfigError(f"The connector {name!r} from group {group} could not be loaded "
                          f"({type(exc).__name__}); is its package installed?") from exc
