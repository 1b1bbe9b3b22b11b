"""Where published articles go besides the built-in KB (which the built-in agent reads and which keeps
the version history). Connectors implement `Publisher`; the built-in one does nothing more. The configured
one (`FLYWHEEL_PUBLISHER`) is built by `bot.publishers.registry.build_publisher`."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

# What a draft may carry for the team that never goes public: the offline provider's label, and the list of
# the conversations it was written from (kept on the draft and in `source_conversations`, not in the text).
_LABEL_LINE = re.compile(r"^\s*[_*]*\[offline provider[^\]]*\][_*]*\s*$", re.IGNORECASE)
_LABEL_INLINE = re.compile(r"\s*\[offline provider[^\]]*\]\s*", re.IGNORECASE)
_SOURCES_HEADING = re.compile(r"^#{1,6}\s*sources\s*$", re.IGNORECASE)
_CONVERSATION_ITEM = re.compile(r"^\s*[-*]\s*conversation\s+\S+\s*$", re.IGNORECASE)


def public_text(body: str) -> str:
    """The draft's text without what is internal: the `[offline provider…]` label (its own line, or inline), and
    the "conversation <id>" items of a "Sources" section (the heading too when nothing else is under it)."""
    lines = body.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if _SOURCES_HEADING.match(line.strip()):
            end = next((j for j in range(i + 1, len(lines)) if lines[j].lstrip().startswith("#")), len(lines))
            kept = [ln for ln in lines[i + 1:end] if not _CONVERSATION_ITEM.match(ln) and not _LABEL_LINE.match(ln)]
            if any(ln.strip() for ln in kept):
                out += [line, *kept]
            i = end
            continue
        if not _LABEL_LINE.match(line):
            out.append(_LABEL_INLINE.sub(" ", line).strip() if "[offline provider" in line.lower() else line)
        i += 1
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip()


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
    locale: str | None = None  # a synced article's locale there (one KB article per locale); None: the default


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

