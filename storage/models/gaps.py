"""Knowledge gaps: who flagged them, the conversations that show them, notes, outlines and drafts."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models.base import Base, utcnow

if TYPE_CHECKING:
    from storage.models.conversations import Conversation


class Gap(Base):
    __tablename__ = "gaps"
    __table_args__ = (Index("ix_gaps_state", "state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    state: Mapped[str] = mapped_column(String(16), default="open")
    kind: Mapped[str] = mapped_column(String(16), default="missing")
    title: Mapped[str | None] = mapped_column(String(300))
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"))
    flagged_position: Mapped[int | None] = mapped_column(Integer)  # the agent turn that fell short
    flagged_by: Mapped[str] = mapped_column(String(64))
    owner: Mapped[str | None] = mapped_column(String(64))
    flagged_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    published_at: Mapped[dt.datetime | None]
    verified_at: Mapped[dt.datetime | None]
    article_id: Mapped[int | None] = mapped_column(ForeignKey("articles.id"))
    thread_channel: Mapped[str | None] = mapped_column(String(64))
    thread_ts: Mapped[str | None] = mapped_column(String(32))
    digest_item_id: Mapped[int | None] = mapped_column(ForeignKey("digest_items.id"))
    # "published, verification pending": how often verification was tried, and when to try again
    verify_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    verify_after: Mapped[dt.datetime | None]

    conversation: Mapped[Conversation] = relationship(foreign_keys=[conversation_id])
    flaggers: Mapped[list[GapFlagger]] = relationship(order_by="GapFlagger.id")
    notes: Mapped[list[GapNote]] = relationship(order_by="GapNote.id")
    links: Mapped[list[GapConversation]] = relationship(order_by="GapConversation.id")


class GapConversation(Base):
    """Every conversation that shows the gap (the first one included)."""

    __tablename__ = "gap_conversations"
    __table_args__ = (UniqueConstraint("gap_id", "conversation_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    gap_id: Mapped[int] = mapped_column(ForeignKey("gaps.id", ondelete="CASCADE"))
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"))
    added_by: Mapped[str | None] = mapped_column(String(64))
    added_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class GapFlagger(Base):
    __tablename__ = "gap_flaggers"
    __table_args__ = (UniqueConstraint("gap_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    gap_id: Mapped[int] = mapped_column(ForeignKey("gaps.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(64))
    added_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class GapNote(Base):
    __tablename__ = "gap_notes"
    # A thread reply delivered twice (Slack retries, two instances) is one note; NULL refs never collide.
    __table_args__ = (UniqueConstraint("gap_id", "source_ref", name="uq_gap_notes_gap_id_source_ref"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    gap_id: Mapped[int] = mapped_column(ForeignKey("gaps.id", ondelete="CASCADE"))
    author: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    source_ref: Mapped[str | None] = mapped_column(String(64))  # e.g. the Slack message ts
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    edited_at: Mapped[dt.datetime | None]  # the thread reply was edited (migration 0010)


class Outline(Base):
    __tablename__ = "outlines"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    gap_id: Mapped[int] = mapped_column(ForeignKey("gaps.id", ondelete="CASCADE"), index=True)
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    provider: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Draft(Base):
    __tablename__ = "drafts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    gap_id: Mapped[int] = mapped_column(ForeignKey("gaps.id", ondelete="CASCADE"), index=True)
    outline_id: Mapped[int | None] = mapped_column(ForeignKey("outlines.id"))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    tags: Mapped[list[Any]] = mapped_column(JSON, default=list)
    target_article_id: Mapped[int | None] = mapped_column(ForeignKey("articles.id"))
    base_version: Mapped[int | None] = mapped_column(Integer)  # the target's version the update started from
    provider: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    notes_folded: Mapped[int | None] = mapped_column(Integer)  # the gap's notes written into it (migration 0010)
