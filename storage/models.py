"""SQLAlchemy 2.0 typed models. The schema is created by Alembic migrations only."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {
        dt.datetime: DateTime(timezone=True),
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


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


class Article(Base):
    __tablename__ = "articles"
    __table_args__ = (Index("ix_articles_external_source", "external_source", "external_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(200), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    tags: Mapped[list[Any]] = mapped_column(JSON, default=list)
    version: Mapped[int] = mapped_column(Integer, default=1)
    source_gap_id: Mapped[int | None] = mapped_column(Integer)  # the gap that created it
    external_id: Mapped[str | None] = mapped_column(String(255))  # id in the team's own KB, if published there
    external_url: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # taken off the KB (a new article whose verdict failed): not searched until a new version is published
    withdrawn_at: Mapped[dt.datetime | None]
    # help-centre sync (bot/kb/sync.py): where the article came from (zendesk, intercom, markdown), its locale
    # there (one article per locale), and the external revision last seen (its updated_at, or a hash)
    external_source: Mapped[str | None] = mapped_column(String(32))
    locale: Mapped[str | None] = mapped_column(String(32))
    external_revision: Mapped[str | None] = mapped_column(String(64))
    synced_at: Mapped[dt.datetime | None]

    versions: Mapped[list[ArticleVersion]] = relationship(order_by="ArticleVersion.version")


class ArticleVersion(Base):
    __tablename__ = "article_versions"
    __table_args__ = (UniqueConstraint("article_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # doubles as the KB revision
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    tags: Mapped[list[Any]] = mapped_column(JSON, default=list)
    author: Mapped[str | None] = mapped_column(String(64))
    gap_id: Mapped[int | None] = mapped_column(Integer)  # the gap this version fixed
    external_id: Mapped[str | None] = mapped_column(String(255))  # the external KB's receipt for this version
    external_url: Mapped[str | None] = mapped_column(String(1000))
    publish_attempt_id: Mapped[int | None] = mapped_column(Integer)
    reverted_from: Mapped[int | None] = mapped_column(Integer)  # a rollback: the version whose content this is
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ReplayRun(Base):
    __tablename__ = "replay_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)
    gap_id: Mapped[int | None] = mapped_column(ForeignKey("gaps.id"), index=True)
    draft_id: Mapped[int | None] = mapped_column(ForeignKey("drafts.id"))
    regression_case_id: Mapped[int | None] = mapped_column(ForeignKey("regression_cases.id"))
    kb_revision: Mapped[int] = mapped_column(Integer, default=0)
    flagged_position: Mapped[int | None] = mapped_column(Integer)
    before_answer: Mapped[str | None] = mapped_column(Text)
    after_answer: Mapped[str | None] = mapped_column(Text)
    verdict: Mapped[str | None] = mapped_column(String(16))
    reasons: Mapped[list[Any]] = mapped_column(JSON, default=list)
    confidence: Mapped[float | None] = mapped_column(Float)
    agreement: Mapped[float | None] = mapped_column(Float)
    judge_runs: Mapped[int] = mapped_column(Integer, default=1)
    provider: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    # who answered: the agent's identity and version, and the model (a broken case traces to its change)
    agent_name: Mapped[str | None] = mapped_column(String(100))
    agent_version: Mapped[str | None] = mapped_column(String(100))
    model: Mapped[str | None] = mapped_column(String(100))
    collateral: Mapped[list[Any] | None] = mapped_column(JSON)  # other turns that got worse
    # a person's verdict beside the judge's ("verdict is wrong")
    human_verdict: Mapped[str | None] = mapped_column(String(16))
    human_reason: Mapped[str | None] = mapped_column(Text)
    human_by: Mapped[str | None] = mapped_column(String(64))
    human_at: Mapped[dt.datetime | None]
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    turns: Mapped[list[ReplayTurn]] = relationship(order_by="ReplayTurn.position")


class ReplayTurn(Base):
    __tablename__ = "replay_turns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("replay_runs.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # position of the agent answer in the original
    user_text: Mapped[str] = mapped_column(Text)
    original_answer: Mapped[str | None] = mapped_column(Text)
    new_answer: Mapped[str] = mapped_column(Text)
    sources: Mapped[list[Any]] = mapped_column(JSON, default=list)


class RegressionCase(Base):
    __tablename__ = "regression_cases"
    __table_args__ = (UniqueConstraint("gap_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    gap_id: Mapped[int] = mapped_column(ForeignKey("gaps.id"))
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"))
    flagged_position: Mapped[int] = mapped_column(Integer)
    required_facts: Mapped[list[Any]] = mapped_column(JSON, default=list)
    article_id: Mapped[int | None] = mapped_column(ForeignKey("articles.id"))
    active: Mapped[bool] = mapped_column(default=True)
    last_verdict: Mapped[str | None] = mapped_column(String(16))
    last_run_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class PublishAttempt(Base):
    """One publish of a gap, claimed before the external KB is called (see migration 0005)."""

    __tablename__ = "publish_attempts"
    __table_args__ = (UniqueConstraint("idempotency_key", name="uq_publish_attempts_idempotency_key"),
                      Index("ix_publish_attempts_gap_id", "gap_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    gap_id: Mapped[int] = mapped_column(ForeignKey("gaps.id", ondelete="CASCADE"))
    draft_id: Mapped[int | None] = mapped_column(ForeignKey("drafts.id"))
    idempotency_key: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default="claimed", server_default="claimed")
    publisher: Mapped[str | None] = mapped_column(String(64))
    external_id: Mapped[str | None] = mapped_column(String(255))
    external_url: Mapped[str | None] = mapped_column(String(1000))
    article_id: Mapped[int | None] = mapped_column(ForeignKey("articles.id"))
    version: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(Text)  # "publish anyway": why
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None]


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_entity", "entity", "entity_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str | None] = mapped_column(String(16))
    actor: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class JobClaim(Base):
    """Exactly-once gate for scheduled work: one row per (job, period)."""

    __tablename__ = "job_claims"
    __table_args__ = (UniqueConstraint("job_name", "period_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_name: Mapped[str] = mapped_column(String(64))
    period_key: Mapped[str] = mapped_column(String(64))
    owner: Mapped[str | None] = mapped_column(String(128))
    claimed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None]


class ProcessedEvent(Base):
    """Slack event ids already handled (dedupe across retries and instances; `bot.services.events`)."""

    __tablename__ = "processed_events"
    __table_args__ = (Index("ix_processed_events_received_at", "received_at"),)  # pruning by age

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class SourceCursor(Base):
    """Where an incremental pull from a conversation source stopped (restart-safe)."""

    __tablename__ = "source_cursors"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    cursor: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ModelCall(Base):
    """One remote model call: what it cost, never what it said (`bot/services/costs.py`)."""

    __tablename__ = "model_calls"
    __table_args__ = (Index("ix_model_calls_at", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    task: Mapped[str] = mapped_column(String(32))  # outline, draft, judge, agent, embeddings
    model: Mapped[str] = mapped_column(String(100))
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    latency_ms: Mapped[int] = mapped_column(Integer, default=0)
    ok: Mapped[bool] = mapped_column(default=True)


class QueuedResult(Base):
    """The result of one job of a fanned-out batch (a regression case run by a `flywheel worker`), read back by
    whoever queued the batch (`bot/services/regression.py`). One row per (batch, item): a rerun keeps the first."""

    __tablename__ = "queued_results"
    __table_args__ = (UniqueConstraint("batch", "item", name="uq_queued_results_batch"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch: Mapped[str] = mapped_column(String(64))
    item: Mapped[int] = mapped_column(Integer)
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
