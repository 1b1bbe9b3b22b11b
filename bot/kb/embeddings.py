"""Optional semantic re-ranking of the BM25 results (`pip install 'flywheel-bot[embeddings]'` is not needed
for the endpoint; docs/ARCHITECTURE.md, "Search").

When `FLYWHEEL_SEARCH_EMBEDDINGS=openai`, the BM25 top `FLYWHEEL_SEARCH_RERANK_DEPTH` articles are re-ranked
by `(1 - w) * bm25 / max(bm25) + w * cosine(query, article)` with `w = FLYWHEEL_SEARCH_EMBEDDINGS_WEIGHT`. The
embeddings come from the OpenAI-compatible endpoint of the settings (`OPENAI_BASE_URL`, `OPENAI_API_KEY`),
through `bot.llm.remote.RemoteModel`, which redacts every text and counts the call. An article's embedding is
cached in memory by its version (the id and a hash of the version's text), so each version is sent once; the
query (the last user turns) is embedded at each search. When the endpoint fails, the BM25 order is kept and
the failure logged (type only): search never breaks because an optional model is down."""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from bot.kb.search import Hit
    from bot.settings import Settings

log = logging.getLogger(__name__)

DOC_CHARS = 4000  # of an article's text embedded (title first): the rest rarely changes what it is about
CACHE_MAX = 200_000  # article versions kept (384-1,536 floats each)


class Embedder(Protocol):
    name: str

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


class RemoteEmbedder:
    """Embeddings from the OpenAI-compatible endpoint, through the one door to remote models."""

    def __init__(self, remote: object, model: str) -> None:
        self.remote, self.model, self.name = remote, model, f"openai:{model}"

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return self.remote.embed(model=self.model, texts=texts)  # type: ignore[attr-defined, no-any-return]


def doc_text(title: str, body: str) -> str:
    return f"{title}\n\n{body}"[:DOC_CHARS]


def _unit(vectors: Sequence[Sequence[float]]) -> npt.NDArray[np.float32]:
    arr = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    return (arr / np.where(norms == 0, np.float32(1.0), norms)).astype(np.float32)


class Reranker:
    """Re-ranks BM25 hits by a mix of their BM25 score and the cosine of query and article embeddings."""

    def __init__(self, embedder: Embedder, *, weight: float = 0.5, depth: int = 20,
                 cache_max: int = CACHE_MAX) -> None:
        self.embedder, self.weight, self.depth, self.cache_max = embedder, weight, depth, cache_max
        self._cache: OrderedDict[tuple[int, str], npt.NDArray[np.float32]] = OrderedDict()
        self._lock = threading.Lock()
        self.embedded = 0  # article versions sent to the embedder so far

    @staticmethod
    def key(hit: Hit) -> tuple[int, str]:
        """An article version: its id and a hash of its text (a shadow draft has its own)."""
        return hit.article_id, hashlib.sha256(doc_text(hit.title, hit.body).encode()).hexdigest()[:32]

    def rerank(self, query: str, hits: Sequence[Hit], k: int) -> list[Hit]:
        if len(hits) < 2 or not query.strip() or self.weight <= 0:
            return list(hits[:k])
        keys = [self.key(h) for h in hits]
        with self._lock:
            cached = {key: self._cache[key] for key in keys if key in self._cache}
        missing = [(key, h) for key, h in zip(keys, hits, strict=True) if key not in cached]
        missing = list({key: (key, h) for key, h in missing}.values())
        try:
            vectors = _unit(self.embedder.embed([query] + [doc_text(h.title, h.body) for _, h in missing]))
        except Exception as exc:  # noqa: BLE001 - optional: keep the BM25 order
            log.warning("search embeddings failed, BM25 order kept embedder=%r error=%s", self.embedder.name,
                        type(exc).__name__)
            return list(hits[:k])
        fresh = {key: vectors[i] for i, (key, _) in enumerate(missing, start=1)}
        self._remember(fresh)
        docs = np.stack([cached[key] if key in cached else fresh[key] for key in keys])
        cosine = docs @ vectors[0]
        top = max(h.score for h in hits) or 1.0
        mixed = [(1 - self.weight) * h.score / top + self.weight * float(c) for h, c in zip(hits, cosine, strict=True)]
        order = sorted(range(len(hits)), key=lambda i: (-mixed[i], hits[i].article_id))
        return [replace(hits[i], score=round(mixed[i], 6)) for i in order[:k]]

    def _remember(self, fresh: dict[tuple[int, str], npt.NDArray[np.float32]]) -> None:
        with self._lock:
            self._cache.update(fresh)
            self.embedded += len(fresh)
            while len(self._cache) > self.cache_max:
                self._cache.popitem(last=False)


def reranker_for(settings: Settings) -> Reranker | None:
    """The re-ranker the settings ask for (FLYWHEEL_SEARCH_EMBEDDINGS), or None: BM25 alone."""
    if settings.search_embeddings != "openai":
        return None
    from bot.llm.remote import RemoteModel

    embedder = RemoteEmbedder(RemoteModel.from_settings(settings), settings.search_embeddings_model)
    return Reranker(embedder, weight=settings.search_embeddings_weight, depth=settings.search_rerank_depth)
