"""Corpora and queries for the KB benchmarks: MTRAG gold passages, the DSTC10 knowledge base, synthetic docs;
and a bulk loader that fills the KB tables directly (the benchmarks time search, not `kb.save`)."""

from __future__ import annotations

import datetime as dt
import json
import random
from dataclasses import dataclass, field

from sqlalchemy import insert, select, text

from bench.common import DSTC10, MTRAG


@dataclass
class Corpus:
    name: str
    docs: list[tuple[str, str, str]]  # (doc key, title, body)
    queries: list[str]
    relevant: list[set[str]] = field(default_factory=list)  # per query: the gold doc keys (quality sets)
    conversations: list[list[tuple[str, str]]] = field(default_factory=list)  # per query: (role, text) turns

    def fold(self, which: int) -> list[int]:
        """Two-fold split of the query indices: fold 0 (A) the even ones, fold 1 (B) the odd ones."""
        return [i for i in range(len(self.queries)) if i % 2 == which]


def mtrag() -> Corpus:
    """Distinct gold passages of every task (titled as `flywheel eval` titles them); queries = the last user
    turn of each task that has gold passages; relevant = its gold document ids."""
    from bot.evaluation_data import load_tasks, passage_title

    tasks = load_tasks(MTRAG)
    docs: dict[str, tuple[str, str, str]] = {}
    queries, relevant, conversations = [], [], []
    for t in tasks:
        for p in t.passages:
            docs.setdefault(p.doc_id, (p.doc_id, passage_title(p), p.text))
        if t.passages:
            queries.append(t.question)
            relevant.append({p.doc_id for p in t.passages})
            conversations.append(list(t.turns))
    return Corpus("MTRAG gold passages", list(docs.values()), queries, relevant, conversations)


def dstc10() -> Corpus:
    """DSTC10 track 2 task 2 knowledge (12k FAQ docs; title = entity name + the FAQ question); queries = the
    last user turn (ASR text) of each validation log with a knowledge-seeking target and its one gold doc."""
    knowledge = json.loads((DSTC10 / "knowledge.json").read_text(encoding="utf-8"))
    docs = []
    for domain, entities in knowledge.items():
        for entity_id, entity in entities.items():
            name = entity.get("name")
            for doc_id, doc in entity["docs"].items():
                title = f"{name}: {doc['title']}" if name else f"{domain}: {doc['title']}"
                docs.append((f"{domain}/{entity_id}/{doc_id}", title[:300], doc["body"]))
    logs = json.loads((DSTC10 / "val/logs.json").read_text(encoding="utf-8"))
    labels = json.loads((DSTC10 / "val/labels.json").read_text(encoding="utf-8"))
    queries, relevant, conversations = [], [], []
    for log, label in zip(logs, labels, strict=True):
        users = [turn["text"] for turn in log if turn.get("speaker") == "U"]
        if label.get("target") and users:
            gold = label["knowledge"][0]
            queries.append(users[-1])
            relevant.append({f"{gold['domain']}/{gold['entity_id']}/{gold['doc_id']}"})
            conversations.append([("user" if turn.get("speaker") == "U" else "agent", turn["text"]) for turn in log])
    return Corpus("DSTC10 knowledge", docs, queries, relevant, conversations)


def synthetic(n: int, *, words: int = 200, vocabulary: int = 20_000, n_queries: int = 300, seed: int = 3) -> Corpus:
    """n docs of `words` words from a Zipf-distributed vocabulary of pseudo-words (the §6 anchor's setup);
    3-term OR queries of words drawn uniformly from the frequency ranks 50-5,000 (neither the stopword-like
    head nor words too rare to match)."""
    import numpy as np

    rng = random.Random(seed)
    syllables = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
    vocab: list[str] = []
    seen: set[str] = set()
    while len(vocab) < vocabulary:
        w = "".join(rng.choice(syllables) for _ in range(rng.randint(2, 4)))
        if w not in seen:
            seen.add(w)
            vocab.append(w)
    zipf = 1 / np.arange(1, vocabulary + 1)
    drawn = np.random.default_rng(seed).choice(vocabulary, size=(n, words), p=zipf / zipf.sum())
    docs = []
    for i, row in enumerate(drawn.tolist()):
        body = [vocab[j] for j in row]
        docs.append((f"s{i}", " ".join(body[:6]).capitalize(), " ".join(body[6:])))
    queries = [" ".join(rng.choices(vocab[50:5000], k=3)) for _ in range(n_queries)]
    return Corpus(f"synthetic {n:,}", docs, queries)


def load(svc, docs: list[tuple[str, str, str]], batch: int = 5_000) -> dict[int, str]:  # type: ignore[no-untyped-def]
    """Bulk-insert the docs as articles; returns article id -> doc key."""
    from storage.models import Article

    now = dt.datetime.now(dt.UTC)
    with svc.engine.begin() as conn:
        for i in range(0, len(docs), batch):
            conn.execute(insert(Article), [
                {"slug": f"bench-{j}", "title": title, "body": body, "tags": [], "version": 1, "created_at": now,
                 "updated_at": now} for j, (_, title, body) in enumerate(docs[i:i + batch], start=i)])
        if svc.engine.dialect.name != "sqlite":
            conn.execute(text("ANALYZE articles"))
        rows = conn.execute(select(Article.id, Article.slug)).all()
    return {aid: docs[int(slug.removeprefix("bench-"))][0] for aid, slug in rows}
