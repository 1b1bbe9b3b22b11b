"""Replays and verdicts, regression cases, and publish attempts."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models.base import Base, utcnow


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
    job_token: Mapped[str | None] = mapped_column(String(128))  # the queued job that claimed it (its retry resumes)
