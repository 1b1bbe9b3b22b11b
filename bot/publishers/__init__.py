"""Where published articles go besides the built-in KB (which the built-in agent reads and which keeps
the version history). Connectors implement `Publisher`; the built-in one does nothing more. The configured
one (`FLYWHEEL_PUBLISHER`) is built by `bot.publishers.registry.build_publisher`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class ArticleToPublish:
    slug: str
    title: str
    body: str  # Markdown
    tags: Sequence[str] = ()
    external_id: str | None = None  # set when the article was published there before: update it
    gap_id: int | None = None
    author: str | None = None
    version: int = 1
    source_conversations: Sequence[str] = field(default_factory=tuple)


@dataclass(frozen=True)
class PublishReceipt:
    external_id: str | None = None
    url: str | None = None


class Publisher(Protocol):
    """Raise `bot.errors.PublishError` on failure: nothing is recorded and the gap stays publishable."""

    name: str

    def publish(self, article: ArticleToPublish) -> PublishReceipt: ...


class BuiltinPublisher:
    name = "builtin"

    def publish(self, article: ArticleToPublish) -> PublishReceipt:
        return PublishReceipt()

