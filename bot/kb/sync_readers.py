"""The help-centre readers of the KB sync by name: `zendesk`, `intercom`, `markdown`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.errors import ConfigError
from bot.integrations.settings import IntegrationSettings
from bot.kb.sync import ArticleReader
from bot.settings import Settings

SOURCES = ("zendesk", "intercom", "markdown")


def build_reader(name: str, settings: Settings, conf: IntegrationSettings, *, folder: Path | None = None,
                 **kw: Any) -> ArticleReader:
    """The reader of `name`, configured from the settings (`folder` for markdown, else FLYWHEEL_KB_SYNC_DIR)."""
    if name == "zendesk":
        from bot.kb.sync_zendesk import ZendeskArticles

        return ZendeskArticles.from_settings(conf, locales=settings.kb_sync_locales, **kw)
    if name == "intercom":
        from bot.kb.sync_intercom import IntercomArticles

        return IntercomArticles.from_settings(conf, **kw)
    if name == "markdown":
        from bot.kb.sync_markdown import MarkdownFolder

        folder = folder or settings.kb_sync_dir
        if folder is None:
            raise ConfigError("`kb sync markdown` needs a folder: give it, or set FLYWHEEL_KB_SYNC_DIR.")
        return MarkdownFolder(folder)
    raise ConfigError(f"Unknown help centre {name!r}: one of {', '.join(SOURCES)}.")


def reader_for_article(source: str | None, settings: Settings, conf: IntegrationSettings,
                       **kw: Any) -> ArticleReader | None:
    """The reader of a synced article's source, to read its current text before an update (None: not synced,
    or its source is not configured any more)."""
    if source not in SOURCES:
        return None
    try:
        return build_reader(str(source), settings, conf, **kw)
    except ConfigError:
        return None
