"""The KB's in-memory index kept in step with the database, on SQLite and PostgreSQL alike.

Each search first reads the KB revision (the newest `article_versions.id`, one indexed lookup). When it moved,
the articles changed since are read and scored beside the snapshot as an overlay; once the overlay grows past
`REBUILD_SHARE` of the KB the snapshot is rebuilt. Changes that write no version (withdrawing an article,
deleting one) are seen at once when they go through `hide`/`touch` in this process (`backend.unindex` and
`backend.index` call them), and from other processes by a fingerprint of the live article ids read at most
every `FINGERPRINT_SECONDS`.

Thread safety: the state (snapshot, overlay, revision) is one immutable tuple swapped under a lock; a search
reads whichever state is current, and only one thread refreshes at a time (others keep using the last state,
unless there is none yet)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from sqlalchemy import Connection, select, text

from bot.kb.bm25 import Doc, Overlay, OverlayDoc, Snapshot
from storage.models import Article

log = logging.getLogger(__name__)

REBUILD_SHARE = 0.02  # rebuild the snapshot once the overlay holds more than 2% of the KB…
REBUILD_MIN = 64  # …and more than this many articles
FINGERPRINT_SECONDS = 2.0

_REVISION = text("SELECT coalesce(max(id), 0) FROM article_versions")
_FINGERPRINT = text("SELECT count(*), coalesce(sum(id), 0) FROM articles WHERE withdrawn_at IS NULL")
_CHANGED = text("SELECT DISTINCT article_id FROM article_versions WHERE id > :rev")


@dataclass(frozen=True)
class State:
    snapshot: Snapshot
    overlay: Overlay
    revision: int
    fingerprint: tuple[int, int]
    generation: int  # of the in-process change notes it has applied
    checked_at: float
    gone: frozenset[int] = frozenset()  # snapshot or overlay articles since withdrawn or deleted


def _docs(conn: Connection, ids: Sequence[int] | None = None) -> Iterable[Doc]:
    """The live (not withdrawn) articles, all or those of `ids`, in id order (tags decoded from JSON)."""
    stmt = select(Article.id, Article.title, Article.body, Article.tags, Article.slug).where(
        Article.withdrawn_at.is_(None))
    if ids is not None:
        stmt = stmt.where(Article.id.in_(ids))
    for r in conn.execute(stmt.order_by(Article.id)):
        yield Doc(int(r.id), r.title, r.body, [str(t) for t in (r.tags or [])], r.slug)


def _fingerprint(conn: Connection) -> tuple[int, int]:
    row = conn.execute(_FINGERPRINT).one()
    return int(row[0]), int(row[1])


class LiveIndex:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._state: State | None = None
        self._lock = threading.Lock()
        self._notes_lock = threading.Lock()
        self._generation = 0
        self._touched: set[int] = set()  # re-read these articles at the next search
        self._hidden: set[int] = set()  # taken off search in this process (withdrawn, or unindexed)
        self.rebuilds = 0

    # --- change notes from this process ---------------------------------------------------------------
    def touch(self, article_id: int) -> None:
        with self._notes_lock:
            self._hidden.discard(article_id)
            self._touched.add(article_id)
            self._generation += 1

    def hide(self, article_id: int) -> None:
        with self._notes_lock:
            self._hidden.add(article_id)
            self._generation += 1

    def invalidate(self) -> None:
        """Rebuild from the database at the next search."""
        with self._lock:
            self._state = None

    # --- reads ----------------------------------------------------------------------------------------
    def current(self, conn: Connection) -> State:
        """The state to search with, refreshed if the KB changed."""
        state = self._state
        revision = int(conn.execute(_REVISION).scalar_one())
        if state is not None and self._fresh(state, revision, conn):
            return state
        if state is not None and not self._lock.acquire(blocking=False):
            return state  # another thread is refreshing: search the last state meanwhile
        if state is None:
            self._lock.acquire()
        try:
            state = self._state
            if state is not None and self._fresh(state, revision, conn):
                return state
            self._state = self._refresh(conn, state, revision)
            return self._state
        finally:
            self._lock.release()

    def _fresh(self, state: State, revision: int, conn: Connection) -> bool:
        if state.revision != revision or state.generation != self._generation:
            return False
        if self._clock() - state.checked_at < FINGERPRINT_SECONDS:
            return True
        fingerprint = _fingerprint(conn)
        if fingerprint != state.fingerprint:
            return False
        if self._state is state:  # (a refresh that finished meanwhile is kept)
            self._state = replace(state, checked_at=self._clock())
        return True

    def _refresh(self, conn: Connection, state: State | None, revision: int) -> State:
        with self._notes_lock:
            generation, touched, hidden = self._generation, set(self._touched), frozenset(self._hidden)
            self._touched.clear()
        fingerprint = _fingerprint(conn)
        if state is None:
            return self._rebuild(conn, revision, fingerprint, generation, hidden)
        changed = touched | {int(r[0]) for r in conn.execute(_CHANGED, {"rev": state.revision})}
        gone = set(state.gone)
        if fingerprint != state.fingerprint:  # withdrawn, deleted or restored without a version
            live = {int(r[0]) for r in conn.execute(text("SELECT id FROM articles WHERE withdrawn_at IS NULL"))}
            known = (set(state.snapshot.position) | set(state.overlay.docs)) - gone
            gone |= known - live
            changed |= live - known
        docs = {aid: od for aid, od in state.overlay.docs.items() if aid not in changed}
        if changed:
            for doc in _docs(conn, sorted(changed)):
                docs[doc.id] = OverlayDoc.of(doc)
        gone = (gone | (changed - set(docs))) - set(docs)
        if len(docs) + len(gone) > max(REBUILD_MIN, REBUILD_SHARE * state.snapshot.n):
            return self._rebuild(conn, revision, fingerprint, generation, hidden)
        overlay = Overlay(docs, hidden | frozenset(gone))
        return State(state.snapshot, overlay, revision, fingerprint, generation, self._clock(), frozenset(gone))

    def _rebuild(self, conn: Connection, revision: int, fingerprint: tuple[int, int], generation: int,
                 hidden: frozenset[int]) -> State:
        started = time.perf_counter()
        snapshot = Snapshot(_docs(conn))
        self.rebuilds += 1
        log.info("kb index built articles=%d revision=%d seconds=%.2f", snapshot.n, revision,
                 time.perf_counter() - started)
        return State(snapshot, Overlay({}, hidden), revision, fingerprint, generation, self._clock())
