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
    # The publish attempt's key: the same on a retry or a resume, so the external KB is asked whether it
    # has it already (a label, a lookup, or an `Idempotency-Key` header) before anything is created.
    idempotency_key: str | None = None


@dataclass(frozen=True)
class PublishReceipt:
    external_id: str | None = None
    url: str | None = None
    visible: bool = True  # False: the external KB keeps it as a draft the agent cannot see (never verified)


class Publisher(Protocol):
    """Raise `bot.errors.PublishError` on failure: nothing is recorded and the gap stays publishable."""

    name: str

    def publish(self, article: ArticleToPublish) -> PublishReceipt: ...


class Unpublisher(Protocol):
    """Optional: take a new article off the external KB (a FAIL verdict rolled back). A rollback to an older
    version is a `publish` of that version's text with the same `external_id` (an update)."""

    def unpublish(self, external_id: str, *, gap_id: int | None = None) -> None: ...


class BuiltinPublisher:
    name = "builtin"

    def publish(self, article: ArticleToPublish) -> PublishReceipt:
        return PublishReceipt()

    def unpublish(self, external_id: str, *, gap_id: int | None = None) -> None:
        return None

