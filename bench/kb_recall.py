"""KB search quality with the whole conversation: recall@5 and MRR@10 on MTRAG-UN and DSTC10, two-fold.

The conversation weighting (`bot.kb.query`) and the title weight are tuned on fold A of *both* data sets at
once (one setting for every KB: the grid point with the best mean recall@5), then measured on fold B through
the real search path the agent uses (`KnowledgeBase.search(conversation_query(turns), 10)` on a migrated
database, SQLite and PostgreSQL), and the other way round. The grid runs in memory on the same index code.

    .venv/bin/python -m bench.kb_recall            # prints the rows; `python -m bench.run --only kb_recall`
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from bench.common import Result, database, dispose, pg_available, services
from bench.kb_data import Corpus, dstc10, load, mtrag

NAME = "kb_recall"
K, DEPTH = 5, 10
GOALS = {"MTRAG gold passages": 0.82, "DSTC10 knowledge": 0.60}
GRID: dict[str, Sequence[Any]] = {
    "k1": (1.2, 1.6),
    "b": (0.75, 0.9),
    "title_weight": (2, 3),
    "decay": (0.7, 0.85),
    "agent_weight": (0.6, 1.0),
    "history_scale": (0.7, 1.0),
    "turn_terms": (10, 20),
    "mix": (1.0, 2.0, 3.0),
}
QUERY_KEYS = ("decay", "agent_weight", "history_scale", "turn_terms", "mix")
INDEX_KEYS = ("k1", "b", "title_weight")


def _set_index(params: dict[str, Any]) -> None:
    from bot.kb import bm25

    bm25.K1, bm25.B, bm25.TITLE_WEIGHT = params["k1"], params["b"], params["title_weight"]


def quality(ranked: Sequence[Sequence[str]], relevant: Sequence[set[str]]) -> tuple[float, float]:
    """(recall@5, MRR@10), averaged over the queries."""
    recall = mrr = 0.0
    for got, rel in zip(ranked, relevant, strict=True):
        recall += len(rel & set(got[:K])) / len(rel)
        mrr += next((1 / r for r, d in enumerate(got, 1) if d in rel), 0.0)
    n = max(1, len(ranked))
    return recall / n, mrr / n


def _query(corpus: Corpus, i: int, params: dict[str, Any]):  # type: ignore[no-untyped-def]
    from bot.kb.query import conversation_query

    return conversation_query(corpus.conversations[i], **{k: params[k] for k in QUERY_KEYS})


def tune(corpora: Sequence[Corpus], fold: int) -> tuple[dict[str, Any], float]:
    """The grid point with the best mean recall@5 over the corpora's `fold` queries (in memory)."""
    from bot.kb.bm25 import Doc, Overlay, Snapshot, rank

    best: tuple[float, dict[str, Any]] = (-1.0, {})
    for index_values in itertools.product(*(GRID[k] for k in INDEX_KEYS)):
        index_params = dict(zip(INDEX_KEYS, index_values, strict=True))
        _set_index(index_params)
        snaps = [Snapshot(Doc(i, t, b) for i, (_, t, b) in enumerate(c.docs)) for c in corpora]
        for values in itertools.product(*(GRID[k] for k in QUERY_KEYS)):
            params = {**index_params, **dict(zip(QUERY_KEYS, values, strict=True))}
            recalls = []
            for corpus, snap in zip(corpora, snaps, strict=True):
                idx = corpus.fold(fold)
                queries = [_query(corpus, i, params) for i in idx]
                ranked = [[corpus.docs[s.id][0] for s in rank(snap, q.weights, DEPTH, Overlay(), q.focus, q.mix)]
                          for q in queries]
                recalls.append(quality(ranked, [corpus.relevant[i] for i in idx])[0])
            score = sum(recalls) / len(recalls)
            if score > best[0]:
                best = (score, params)
    return best[1], best[0]


def measure(svc: Any, ids: dict[int, str], corpus: Corpus, idx: Sequence[int],
            params: dict[str, Any] | None) -> tuple[list[list[str]], tuple[float, float]]:
    """Through the agent's path: `kb.search` with the conversation query (or the last user turn alone)."""
    ranked = []
    for i in idx:
        query = _query(corpus, i, params) if params else corpus.queries[i]
        ranked.append([ids[h.article_id] for h in svc.kb.search(query, DEPTH)])
    return ranked, quality(ranked, [corpus.relevant[i] for i in idx])


def run(result: Result) -> None:
    from bot.kb import bm25

    corpora = [mtrag(), dstc10()]
    chosen = {fold: tune(corpora, 1 - fold) for fold in (0, 1)}  # held-out fold -> params tuned on the other
    for held, (params, tuned) in chosen.items():
        result.notes.append(f"{NAME}: tuned on fold {'AB'[1 - held]} (mean recall@5 {tuned:.3f}): {params}")
    kinds = ["sqlite"] + (["postgresql"] if pg_available() else [])
    default = {"k1": bm25.K1, "b": bm25.B, "title_weight": bm25.TITLE_WEIGHT}
    for corpus in corpora:
        sqlite_recall: dict[int, float] = {}
        for kind in kinds:
            for held, (params, _) in chosen.items():
                _set_index(params)
                with database(kind) as url:
                    svc = services(url)
                    try:
                        ids = load(svc, corpus.docs)
                        idx = corpus.fold(held)
                        _, (last_r, last_m) = measure(svc, ids, corpus, idx, None)
                        _, (r, m) = measure(svc, ids, corpus, idx, params)
                    finally:
                        dispose(svc)
                label = f"{corpus.name}, fold {'AB'[held]} held out ({len(idx)} queries, {kind})"
                goal = GOALS[corpus.name]
                result.add(f"recall@5, whole conversation, {label}", f"{r:.3f}", f"last turn only {last_r:.3f}",
                           r / last_r if last_r else None, f">= {goal}", r >= goal, bench=NAME)
                result.add(f"MRR@10, whole conversation, {label}", f"{m:.3f}", f"last turn only {last_m:.3f}",
                           m / last_m if last_m else None, "info", None, bench=NAME)
                if kind == "sqlite":
                    sqlite_recall[held] = r
                else:
                    ratio = r / sqlite_recall[held] if sqlite_recall[held] else 1.0
                    result.add(f"PostgreSQL / SQLite recall@5, {label}", f"{ratio:.3f}x", "SQLite", ratio,
                               ">= 0.98x", ratio >= 0.98, bench=NAME)
    _set_index(default)
    result.notes.append(f"{NAME}: two-fold (A = even, B = odd query index); the grid {GRID} is searched on one fold "
                        "of both data sets at once and the best point by mean recall@5 is measured on the other "
                        "fold through `KnowledgeBase.search` on a migrated database; no embeddings.")
    if len(kinds) == 1:
        result.notes.append(f"{NAME}: PostgreSQL not reachable; SQLite only.")


if __name__ == "__main__":
    out = Result()
    run(out)
    for row in out.rows:
        print(f"| {row.figure} | {row.measured} | {row.baseline} | {row.target} | {row.ok} |")
    print("\n".join(out.notes))
