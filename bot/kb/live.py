"""The KB's in-memory index kept in step with the database, on SQLite and PostgreSQL alike.

Each search first reads the KB revision (the newest `article_versions.id`, one indexed lookup). When it moved,
the articles changed since are read and scored beside the snapshot as an overlay; once the overlay grows past
`REBUILD_SHARE` of the KB the snapshot is rebuilt. Changes that write no version (withdrawing an article,
deleting one) are seen at once when they go through `hide`/`touch` in this process (`backend.unindex` and
`backend.index` call them), and from other processes by a fingerprint of the live article ids read at most
every `FINGERPRINT_SECONDS`.

Thread safety: the state (snapshot, overlay, revision) is one immutable tuple swapped under a lock; a search
reads whichever state is current, and only one thread refreshes at a time (others keep using the last state,
unless there is none yet). A rebuild never runs in a search: the first build runs in `warm` (a background
thread started with the process) or, if a search comes first, in that search alone (others wait only while no
state exists at all); later rebuilds run in a background thread while searches use the previous snapshot and
its overlay, which stay correct, only slower to score."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from sqlalchemy import Connection, Engine, select, text

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
        self._stale = False  # rebuild the snapshot (in the background) at the next search
        self._builder: threading.Thread | None = None
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
        """Rebuild from the database after the next search; searches use the current state meanwhile."""
        with self._notes_lock:
            self._stale = True
            self._generation += 1

    # --- building in the background -------------------------------------------------------------------
    def warm(self, engine: Engine) -> threading.Thread:
        """Build the index now in a daemon thread (at process start), so that no search waits for it."""
        return self._start(engine, "kb-index-warm")

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a background build to end (tests, benchmarks); True when none is running."""
        builder = self._builder
        if builder is not None:
            builder.join(timeout)
        return builder is None or not builder.is_alive()

    def _start(self, engine: Engine, name: str) -> threading.Thread:
        with self._notes_lock:
            if self._builder is not None and self._builder.is_alive():
                return self._builder
            self._builder = threading.Thread(target=self._build, args=(engine,), name=name, daemon=True)
            self._builder.start()
            return self._builder

    def _build(self, engine: Engine) -> None:
        try:
            with engine.connect() as conn, self._lock:
                revision = int(conn.execute(_REVISION).scalar_one())
                with self._notes_lock:
                    generation, hidden, self._stale = self._generation, frozenset(self._hidden), False
                    self._touched.clear()  # (the rebuild reads every article)
                self._state = self._rebuild(conn, revision, _fingerprint(conn), generation, hidden)
        except Exception:
            log.exception("kb index build failed; searches keep the previous state")

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
            self._lock.acquire()  # nothing to search yet: wait for the build (the warm-up's, or this one)
        try:
            state = self._state
            if state is not None and self._fresh(state, revision, conn):
                return state
            self._state = self._refresh(conn, state, revision)
            return self._state
        finally:
            self._lock.release()
            if self._stale:
                self._start(conn.engine, "kb-index-rebuild")

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
            if state is None:
                self._stale = False
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
            self._stale = True  # rebuilt in the background (`current`); this overlay serves meanwhile
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
