"""Search at process start (`serve`, `run`, `worker`): the re-ranker the settings ask for, and the index warmed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.kb.embeddings import reranker_for

if TYPE_CHECKING:
    from bot.kb import KnowledgeBase
    from bot.settings import Settings


def start_search(kb: KnowledgeBase, settings: Settings) -> None:
    """At `serve`, `run` and `worker` start: the re-ranker the settings ask for, and the index built in a
    background thread, so that the first search does not wait for it (13 s at 100k articles)."""
    kb.backend.reranker = reranker_for(settings)
    kb.backend.live.warm(kb.engine)
