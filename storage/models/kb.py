"""The built-in KB: articles and their versions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models.base import Base, utcnow


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
    # its section there (a Zendesk section, an Intercom collection): the id, and the name shown beside the title
    external_section_id: Mapped[str | None] = mapped_column(String(64))
    external_section: Mapped[str | None] = mapped_column(String(300))

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
