"""Full-text search behind one interface: SQLite FTS5 (BM25) or PostgreSQL full text.

`shadow(extra)` yields a searcher over the live KB *plus* unpublished drafts, exactly as search would
behave after publishing, without writing anything visible to others:
- SQLite: a per-connection TEMP FTS5 copy of the index with the drafts added (no write lock taken);
- PostgreSQL: the drafts are written inside a transaction that is always rolled back (MVCC: no one
  else sees or waits on them).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Connection, Engine, bindparam, text

from bot.text import STOPWORDS, words

MAX_QUERY_TERMS = 32


@dataclass(frozen=True)
class Hit:
    article_id: int  # negative ids are shadow drafts
    title: str
    body: str
    score: float  # higher is better; comparable only within one result list
    slug: str = ""


@dataclass(frozen=True)
class ExtraDoc:
    """An unpublished article for a shadow search. `replaces` an existing article id, or adds one."""

    title: str
    body: str
    tags: Sequence[str] = ()
    replaces: int | None = None


class Searcher(Protocol):
    def search(self, query: str, k: int = 5) -> list[Hit]: ...


def query_terms(query: str) -> list[str]:
    seen: list[str] = []
    for w in words(query):
        w = re.sub(r"[^a-z0-9]", "", w)
        if w and w not in STOPWORDS and w not in seen:
            seen.append(w)
    return seen[:MAX_QUERY_TERMS]


class SearchBackend(Protocol):
    def index(self, conn: Connection, article_id: int, title: str, body: str, tags: Sequence[str]) -> None: ...

    def unindex(self, conn: Connection, article_id: int) -> None: ...

    def search(self, conn: Connection, query: str, k: int) -> list[Hit]: ...

    def shadow(self, engine: Engine, extra: Sequence[ExtraDoc]) -> AbstractContextManager[Searcher]: ...


class _BoundSearcher:
    def __init__(self, backend: SearchBackend, conn: Connection, table: str | None = None) -> None:
        self.backend, self.conn, self.table = backend, conn, table

    def search(self, query: str, k: int = 5) -> list[Hit]:
        if self.table:
            hits: list[Hit] = self.backend._search(self.conn, query, k, self.table)  # type: ignore[attr-defined]
            return hits
        return self.backend.search(self.conn, query, k)


class SqliteSearch:
    """FTS5 with BM25 ranking; title weighted 5x, tags 2x over the body."""

    WEIGHTS = "5.0, 1.0, 2.0"

    def index(self, conn: Connection, article_id: int, title: str, body: str, tags: Sequence[str]) -> None:
        self.unindex(conn, article_id)
        conn.execute(
            text("INSERT INTO kb_fts(rowid, title, body, tags) VALUES (:id, :t, :b, :g)"),
            {"id": article_id, "t": title, "b": body, "g": " ".join(tags)},
        )

    def unindex(self, conn: Connection, article_id: int) -> None:
        conn.execute(text("DELETE FROM kb_fts WHERE rowid = :id"), {"id": article_id})

    def search(self, conn: Connection, query: str, k: int) -> list[Hit]:
        return self._search(conn, query, k, "main.kb_fts")

    def _search(self, conn: Connection, query: str, k: int, table: str) -> list[Hit]:
        terms = query_terms(query)
        if not terms:
            return []
        match = " OR ".join(f'"{t}"' for t in terms)
        short = table.split(".")[-1]
        # Rank first (the index alone), then read the k winning rows: the bodies of every other match
        # are never touched.
        top = conn.execute(
            text(f"SELECT rowid AS id, bm25({short}, {self.WEIGHTS}) AS rank FROM {table} "
                 f"WHERE {short} MATCH :m ORDER BY rank LIMIT :k"),
            {"m": match, "k": k},
        ).all()
        if not top:
            return []
        rows = {
            r.id: r
            for r in conn.execute(
                text(f"SELECT f.rowid AS id, f.title AS title, f.body AS body, coalesce(a.slug, '') AS slug "
                     f"FROM {table} AS f LEFT JOIN articles AS a ON a.id = f.rowid WHERE f.rowid IN :ids")
                .bindparams(bindparam("ids", expanding=True)),
                {"ids": [r.id for r in top]},
            )
        }
        return [Hit(r.id, rows[r.id].title, rows[r.id].body, -float(r.rank), rows[r.id].slug) for r in top]

    @contextmanager
    def shadow(self, engine: Engine, extra: Sequence[ExtraDoc]) -> Iterator[Searcher]:
        table = f"shadow_{uuid.uuid4().hex[:12]}"
        with engine.connect() as conn:
            conn.execute(
                text(
                    f"CREATE VIRTUAL TABLE temp.{table} USING fts5(title, body, tags, "
                    "tokenize='porter unicode61')"
                )
            )
            try:
                conn.execute(
                    text(
                        f"INSERT INTO temp.{table}(rowid, title, body, tags) "
                        "SELECT rowid, title, body, tags FROM main.kb_fts"
                    )
                )
                for i, doc in enumerate(extra, start=1):
                    rowid = doc.replaces if doc.replaces is not None else -i
                    conn.execute(text(f"DELETE FROM temp.{table} WHERE rowid = :id"), {"id": rowid})
                    conn.execute(
                        text(f"INSERT INTO temp.{table}(rowid, title, body, tags) VALUES (:id, :t, :b, :g)"),
                        {"id": rowid, "t": doc.title, "b": doc.body, "g": " ".join(doc.tags)},
                    )
                conn.commit()
                yield _BoundSearcher(self, conn, f"temp.{table}")
            finally:
                conn.rollback()
                conn.execute(text(f"DROP TABLE IF EXISTS temp.{table}"))
                conn.commit()


class PostgresSearch:
    """PostgreSQL full text: a generated, weighted tsvector column with a GIN index, ts_rank_cd order."""

    def index(self, conn: Connection, article_id: int, title: str, body: str, tags: Sequence[str]) -> None:
        return None  # the tsvector column is generated from the row

    def unindex(self, conn: Connection, article_id: int) -> None:
        return None

    def search(self, conn: Connection, query: str, k: int) -> list[Hit]:
        terms = query_terms(query)
        if not terms:
            return []
        top = conn.execute(
            text(
                "SELECT id, ts_rank_cd(search_vector, q, 1) AS rank "
                "FROM articles, to_tsquery('english', :q) AS q "
                "WHERE search_vector @@ q AND withdrawn_at IS NULL ORDER BY rank DESC, id LIMIT :k"
            ),
            {"q": " | ".join(terms), "k": k},
        ).all()
        if not top:
            return []
        rows = {
            r.id: r
            for r in conn.execute(
                text("SELECT id, title, body, slug FROM articles WHERE id IN :ids")
                .bindparams(bindparam("ids", expanding=True)),
                {"ids": [r.id for r in top]},
            )
        }
        return [Hit(r.id, rows[r.id].title, rows[r.id].body, float(r.rank), rows[r.id].slug) for r in top]

    @contextmanager
    def shadow(self, engine: Engine, extra: Sequence[ExtraDoc]) -> Iterator[Searcher]:
        with engine.connect() as conn:
            trans = conn.begin()
            try:
                for doc in extra:
                    if doc.replaces is not None:
                        conn.execute(
                            text("UPDATE articles SET title = :t, body = :b WHERE id = :id"),
                            {"t": doc.title, "b": doc.body, "id": doc.replaces},
                        )
                    else:
                        conn.execute(
                            text(
                                "INSERT INTO articles (slug, title, body, tags, version, created_at, "
                                "updated_at) VALUES (:s, :t, :b, '[]', 0, now(), now())"
                            ),
                            {"s": f"shadow-{uuid.uuid4().hex}", "t": doc.title, "b": doc.body},
                        )
                yield _BoundSearcher(self, conn)
            finally:
                trans.rollback()


def backend_for(engine: Engine) -> SearchBackend:
    if engine.dialect.name == "sqlite":
        return SqliteSearch()
    if engine.dialect.name == "postgresql":
        return PostgresSearch()
    raise ValueError(f"no KB search backend for {engine.dialect.name}")
