"""KB search behind one interface, the same ranking on every database: BM25 over an in-memory index of the
articles (`bot.kb.bm25`), kept in step with the KB's revision (`bot.kb.live`).

`shadow(extra)` yields a searcher over the live KB *plus* unpublished drafts, exactly as search would behave
after publishing (the drafts are scored beside the index with its statistics), without writing anything:
nobody else sees them, and nothing waits on them.

A query is text, or a `ConversationQuery` (`bot.kb.query`): the whole conversation, the last user turn
weighing most. With a `reranker` (`bot.kb.embeddings`, FLYWHEEL_SEARCH_EMBEDDINGS) the BM25 top results are
re-ranked by a mix of BM25 and embedding similarity."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Connection, Engine, bindparam, text

from bot.kb.bm25 import Doc, Overlay, OverlayDoc, Scored, rank
from bot.kb.live import LiveIndex
from bot.kb.query import ConversationQuery, conversation_query, weights_of

__all__ = ["ConversationQuery", "ExtraDoc", "Hit", "IndexSearch", "Searcher", "backend_for", "conversation_query"]


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


class Reranks(Protocol):
    """Re-orders the BM25 top `depth` results (`bot.kb.embeddings.Reranker`)."""

    depth: int

    def rerank(self, query: str, hits: Sequence[Hit], k: int) -> list[Hit]: ...


class Searcher(Protocol):
    def search(self, query: str, k: int = 5) -> list[Hit]: ...


class SearchBackend(Protocol):
    def index(self, conn: Connection, article_id: int, title: str, body: str, tags: Sequence[str]) -> None: ...

    def unindex(self, conn: Connection, article_id: int) -> None: ...

    def search(self, conn: Connection, query: str, k: int) -> list[Hit]: ...

    def shadow(self, engine: Engine, extra: Sequence[ExtraDoc]) -> AbstractContextManager[Searcher]: ...


_ROWS = text("SELECT id, title, body, slug FROM articles WHERE id IN :ids").bindparams(
    bindparam("ids", expanding=True))


def _hits(conn: Connection, ranked: list[Scored], overlay: Overlay) -> list[Hit]:
    """The ranked articles' text: drafts and changed articles from the overlay, the rest read by id."""
    wanted = [s.id for s in ranked if s.id not in overlay.docs]
    rows = {r.id: r for r in conn.execute(_ROWS, {"ids": wanted})} if wanted else {}
    hits = []
    for s in ranked:
        if s.id in overlay.docs:
            d = overlay.docs[s.id].doc
            hits.append(Hit(s.id, d.title, d.body, s.score, d.slug))
        elif s.id in rows:  # (an article deleted since the index was read is left out)
            r = rows[s.id]
            hits.append(Hit(s.id, r.title, r.body, s.score, r.slug))
    return hits


class IndexSearch:
    """The one search backend: SQLite and PostgreSQL rank alike. `index`/`unindex` are change notes (the
    article is re-read from the database at the next search, or hidden from this process's search)."""

    def __init__(self) -> None:
        self.live = LiveIndex()
        self.reranker: Reranks | None = None

    def index(self, conn: Connection, article_id: int, title: str, body: str, tags: Sequence[str]) -> None:
        self.live.touch(article_id)

    def unindex(self, conn: Connection, article_id: int) -> None:
        self.live.hide(article_id)

    def search(self, conn: Connection, query: str, k: int, drafts: Overlay | None = None) -> list[Hit]:
        weights = weights_of(query)
        if not weights or k <= 0:
            return []
        focus, mix = (query.focus, query.mix) if isinstance(query, ConversationQuery) else (None, 0.0)
        state = self.live.current(conn)
        overlay = drafts.over(state.overlay) if drafts is not None else state.overlay
        reranker = self.reranker
        depth = max(k, reranker.depth) if reranker is not None else k
        hits = _hits(conn, rank(state.snapshot, weights, depth, overlay, focus, mix), overlay)
        return reranker.rerank(query, hits, k) if reranker is not None else hits

    @contextmanager
    def shadow(self, engine: Engine, extra: Sequence[ExtraDoc]) -> Iterator[Searcher]:
        with engine.connect() as conn:
            replaced = [e.replaces for e in extra if e.replaces is not None]
            slugs = {r.id: r.slug for r in conn.execute(_ROWS, {"ids": replaced})} if replaced else {}
            docs = {}
            for i, e in enumerate(extra, start=1):
                aid = e.replaces if e.replaces is not None else -i
                docs[aid] = OverlayDoc.of(Doc(aid, e.title, e.body, list(e.tags), slugs.get(aid, "")))
            yield _BoundSearcher(self, conn, Overlay(docs))


class _BoundSearcher:
    """A searcher holding one connection (a whole replay), optionally with a shadow's drafts."""

    def __init__(self, backend: IndexSearch, conn: Connection, drafts: Overlay | None = None) -> None:
        self.backend, self.conn, self.drafts = backend, conn, drafts

    def search(self, query: str, k: int = 5) -> list[Hit]:
        return self.backend.search(self.conn, query, k, self.drafts)


def backend_for(engine: Engine) -> IndexSearch:
    """The same in-memory BM25 index for every database (see docs/ARCHITECTURE.md, "Search")."""
    return IndexSearch()
