"""Search at process start (`serve`, `run`, `worker`): the re-ranker the settings ask for, the index warmed, and
with local embeddings every article embedded in the background (free here; an endpoint is paid per text, so
its articles are embedded as searches reach them)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

from sqlalchemy import Engine, text

from bot.kb.embeddings import Reranker, reranker_for

if TYPE_CHECKING:
    from bot.kb import KnowledgeBase
    from bot.settings import Settings

log = logging.getLogger(__name__)

PAGE = 256
_PAGE = text("SELECT id, title, body FROM articles WHERE id < :below AND withdrawn_at IS NULL "
             "ORDER BY id DESC LIMIT :n")


def start_search(kb: KnowledgeBase, settings: Settings) -> threading.Thread | None:
    """At `serve`, `run` and `worker` start: the re-ranker the settings ask for, and the index built in a
    background thread, so that the first search does not wait for it (13 s at 100k articles). Returns the
    embeddings warm-up thread when there is one (tests wait for it)."""
    reranker = kb.backend.reranker = reranker_for(settings)
    kb.backend.live.warm(kb.engine)
    if reranker is None or settings.search_embeddings != "local":
        return None
    thread = threading.Thread(target=warm_embeddings, args=(kb.engine, reranker), name="kb-embeddings-warm",
                              daemon=True)
    thread.start()
    return thread


def _articles(engine: Engine) -> Iterator[tuple[int, str, str]]:
    """Every article, newest first, a page per short read (no connection is held while the model works)."""
    below = 2**62
    while True:
        with engine.connect() as conn:
            rows = conn.execute(_PAGE, {"below": below, "n": PAGE}).all()
        if not rows:
            return
        for row in rows:
            yield row.id, row.title, row.body
        below = rows[-1].id


def warm_embeddings(engine: Engine, reranker: Reranker) -> int:
    """Embed every article not embedded yet; a failure is logged (type only) and leaves the rest to searches."""
    try:
        done = reranker.warm(_articles(engine))
    except Exception as exc:  # noqa: BLE001 - optional warm-up: searches embed what they need
        log.warning("search embeddings warm-up stopped error=%s", type(exc).__name__)
        return 0
    log.info("search embeddings warmed articles=%d", done)
    return done
