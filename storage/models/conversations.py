"""Conversations, their messages, and the daily digests that show them in Slack."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models.base import Base, utcnow


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (
        UniqueConstraint("source", "external_id", name="uq_conversations_source_external_id"),
        # Partial indexes over the unsampled conversations: the two sampling queries are range scans on them.
        Index("ix_conversations_sample_risk", "risk_score", "id",
              postgresql_where=text("sampled_on IS NULL"), sqlite_where=text("sampled_on IS NULL")),
        Index("ix_conversations_sample_key", "sample_key",
              postgresql_where=text("sampled_on IS NULL"), sqlite_where=text("sampled_on IS NULL")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(255))
    started_at: Mapped[dt.datetime | None]
    channel: Mapped[str | None] = mapped_column(String(64))
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    resolved: Mapped[bool | None]
    escalated: Mapped[bool | None]
    csat: Mapped[float | None] = mapped_column(Float)
    message_count: Mapped[int] = mapped_column(Integer, default=0)
    risk_score: Mapped[float] = mapped_column(Float, default=0.0)
    risk_reasons: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # A stable pseudo-random key: the random share of a sample is an indexed range scan on it.
    sample_key: Mapped[int] = mapped_column(BigInteger)
    sampled_on: Mapped[dt.date | None] = mapped_column(Date)
    imported_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # what was imported, hashed (a re-import or re-pull of the same content changes nothing), and when a
    # later import added messages or changed its metadata (migration 0008, bot/services/import_update.py)
    content_hash: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime | None]

    messages: Mapped[list[Message]] = relationship(
        back_populates="conversation", order_by="Message.position", cascade="all, delete-orphan"
    )


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (UniqueConstraint("conversation_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    ts: Mapped[dt.datetime | None]
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)

    conversation: Mapped[Conversation] = relationship(back_populates="messages")


class Digest(Base):
    __tablename__ = "digests"
    __table_args__ = (UniqueConstraint("day", "channel"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date)
    channel: Mapped[str] = mapped_column(String(64))
    header_ts: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    posted_at: Mapped[dt.datetime | None]

    items: Mapped[list[DigestItem]] = relationship(
        back_populates="digest", order_by="DigestItem.position"
    )


class DigestItem(Base):
    __tablename__ = "digest_items"
    __table_args__ = (
        UniqueConstraint("digest_id", "conversation_id"),
        Index("ix_digest_items_channel_ts", "channel", "slack_ts"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    digest_id: Mapped[int] = mapped_column(ForeignKey("digests.id", ondelete="CASCADE"))
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"))
    position: Mapped[int] = mapped_column(Integer)
    pick: Mapped[str] = mapped_column(String(16))  # "risk" | "random"
    reasons: Mapped[list[Any]] = mapped_column(JSON, default=list)
    channel: Mapped[str | None] = mapped_column(String(64))
    slack_ts: Mapped[str | None] = mapped_column(String(32))
    review_status: Mapped[str] = mapped_column(String(16), default="pending")
    reviewed_by: Mapped[str | None] = mapped_column(String(64))
    reviewed_at: Mapped[dt.datetime | None]

    digest: Mapped[Digest] = relationship(back_populates="items")
    conversation: Mapped[Conversation] = relationship()
