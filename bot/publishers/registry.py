"""Publishers by name: the built-in connectors, then entry points in the group `flywheel.publishers`.

An entry point names a factory called with the Flywheel settings object that returns a `Publisher`
(an object with `name` and `publish(ArticleToPublish) -> PublishReceipt`); see docs/INTEGRATIONS.md.
"""

from __future__ import annotations

import importlib
from typing import Any

from bot.errors import ConfigError
from bot.integrations import PUBLISHERS_GROUP, load_entry_point
from bot.integrations.settings import integration_settings
from bot.publishers import BuiltinPublisher, Publisher

BUILTIN: dict[str, str] = {
    "markdown": "bot.publishers.markdown:MarkdownPublisher",
    "webhook": "bot.publishers.webhook:WebhookPublisher",
    "zendesk": "bot.publishers.zendesk:ZendeskPublisher",
    "intercom": "bot.publishers.intercom:IntercomPublisher",
}


def load_publisher(name: str, settings: Any) -> Publisher:
    """The publisher called `name` (`FLYWHEEL_PUBLISHER`), configured from the connector settings."""
    if name == "builtin":
        return BuiltinPublisher()
    if name in BUILTIN:
        module, _, cls = BUILTIN[name].partition(":")
        return getattr(importlib.import_module(module), cls).from_settings(integration_settings(settings))
    factory = load_entry_point(PUBLISHERS_GROUP, name, builtin=("builtin", *BUILTIN))
    publisher = factory(settings)
    if not callable(getattr(publisher, "publish", None)):
        raise ConfigError(f"The publisher {name!r} from {PUBLISHERS_GROUP} has no publish() method.")
    return publisher  # type: ignore[no-any-return]
