"""What every conversation source shares: the `Source` protocol and its `Batch`, the pull filters, and the
vendor-HTML-to-text helper. The pull itself (cursors, the lock, the report) is `bot/integrations/sources.py`."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.domain import Role
from bot.integrations.settings import IntegrationSettings, split_ids
from bot.services.import_parse import ROLE_ALIASES

DAY = 86400
_TAG = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class Batch:
    records: list[dict[str, Any]]  # conversations in the JSONL shape (README, "Importing conversations")
    cursor: str | None  # where the next pull starts once these records are stored
    # "<what>: <why>" of each conversation the source refused to show (HTTP 403): skipped, named in the report
    refused: list[str] = field(default_factory=list)
    filtered: int = 0  # conversations the source left out by the pull filters (before fetching their messages)


class Source(Protocol):
    name: str  # also the conversations' `source` and the SourceCursor key

    def fetch(self, cursor: str | None) -> Iterator[Batch]: ...


class Refused(Exception):  # noqa: N818 - a control-flow signal inside a source, never shown as is
    """The source refused one conversation (HTTP 403 on its messages): it is skipped, the pull goes on."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


@dataclass(frozen=True)
class PullFilter:
    """Which conversations a pull keeps (FLYWHEEL_PULL_TAGS, FLYWHEEL_PULL_BRAND, FLYWHEEL_PULL_AI_ONLY).

    tags: keep a conversation with at least one of them (case-insensitive); brands: Zendesk brand ids (a
    record without a `brand_id` is not judged on it); ai_only: keep a conversation only when the AI agent
    wrote at least one of its messages (the `agent` role: FLYWHEEL_ZENDESK_BOT_AUTHOR_IDS,
    FLYWHEEL_ZENDESK_BOT_VIA, Intercom bots and FLYWHEEL_INTERCOM_BOT_AUTHOR_IDS)."""

    tags: frozenset[str] = frozenset()
    brands: frozenset[str] = frozenset()
    ai_only: bool = False

    @classmethod
    def from_settings(cls, conf: IntegrationSettings, *, tags: Iterable[str] | None = None,
                      brands: Iterable[str] | None = None, ai_only: bool | None = None) -> PullFilter:
        """The settings, overridden by whatever is given (the command line's options)."""
        tags = split_ids(conf.pull_tags) if tags is None else frozenset(t.strip() for t in tags if t.strip())
        brands = split_ids(conf.pull_brand) if brands is None else frozenset(b.strip() for b in brands if b.strip())
        return cls(frozenset(t.lower() for t in tags), frozenset(brands),
                   conf.pull_ai_only if ai_only is None else ai_only)

    def __bool__(self) -> bool:
        return bool(self.tags or self.brands or self.ai_only)

    def keep_tags(self, tags: object) -> bool:
        if not self.tags:
            return True
        names = tags if isinstance(tags, list | tuple | set | frozenset) else []
        return any(str(t).strip().lower() in self.tags for t in names)

    def keep_brand(self, brand: object) -> bool:
        return not self.brands or brand is None or str(brand) in self.brands

    def keep(self, record: dict[str, Any]) -> bool:
        """A conversation in the import shape passes every filter."""
        meta = record.get("metadata")
        meta = meta if isinstance(meta, dict) else {}
        if not (self.keep_tags(meta.get("tags")) and self.keep_brand(meta.get("brand_id"))):
            return False
        return not self.ai_only or any(_is_agent(m) for m in record.get("messages") or [])


def _is_agent(message: object) -> bool:
    role = message.get("role") if isinstance(message, dict) else None
    return isinstance(role, str) and ROLE_ALIASES.get(role.strip().lower().replace("-", "_")) == Role.AGENT


def plain(text: str | None) -> str:
    """Vendor HTML bodies → plain text (safe to store: no markup is kept)."""
    if not text:
        return ""
    if "<" in text:
        text = _TAG.sub(" ", re.sub(r"(?i)<br\s*/?>|</p>", "\n", text))
    return re.sub(r"[ \t]+", " ", html.unescape(text)).strip()
