"""Publishers by name: the built-in connectors, then entry points in the group `flywheel.publishers`.

An entry point names a factory called with the connector settings (`IntegrationSettings`, the object on
`Services.integrations`) that returns a `Publisher` (an object with `name` and
`publish(ArticleToPublish) -> PublishReceipt`); see docs/INTEGRATIONS.md.
"""

from __future__ import annotations

import importlib

from bot.errors import ConfigError
from bot.integrations import PUBLISHERS_GROUP, load_entry_point
from bot.integrations.settings import IntegrationSettings
from bot.publishers import BuiltinPublisher, Publisher

BUILTIN: dict[str, str] = {
    "markdown": "bot.publishers.markdown:MarkdownPublisher",
    "webhook": "bot.publishers.webhook:WebhookPublisher",
    "zendesk": "bot.publishers.zendesk:ZendeskPublisher",
    "intercom": "bot.publishers.intercom:IntercomPublisher",
}


def build_publisher(conf: IntegrationSettings) -> Publisher:
    """The configured publisher (`FLYWHEEL_PUBLISHER`)."""
    return load_publisher(conf.publisher or "builtin", conf)


def load_publisher(name: str, conf: IntegrationSettings) -> Publisher:
    """The publisher called `name`, configured from the connector settings."""
    if name == "builtin":
        return BuiltinPublisher()
    if name in BUILTIN:
        module, _, cls = BUILTIN[name].partition(":")
        return getattr(importlib.import_module(module), cls).from_settings(conf)  # type: ignore[no-any-return]
    factory = load_entry_point(PUBLISHERS_GROUP, name, builtin=("builtin", *BUILTIN))
    publisher = factory(conf)
    if not callable(getattr(publisher, "publish", None)):
        raise ConfigError(f"The publisher {name!r} from {PUBLISHERS_GROUP} has no publish() method.")
    return publisher  # type: ignore[no-any-return]
