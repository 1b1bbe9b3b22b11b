"""Topics: gaps (open and closed) grouped by what they are about, ranked by how many recent conversations touch them.

Each gap is the term set of its question, its title and its article's title, without question filler ("how long
does it take", "not working"). Two gaps share a topic when their term sets are similar enough (`TOPIC_THRESHOLD`), or
when one article fixed both; groups are connected components (single linkage), which do not depend on the order
gaps are read in, so a topic's id (its smallest gap id) is stable. With an `Embedder`, the cosine of the gaps'
embeddings replaces the term-set similarity. Dismissed gaps are left out: they were judged not to be gaps.

A conversation's opening question matches the topic that covers most of its terms, each term weighted by the share
of the topic's gaps that have it and divided by the number of topics that use it: "account", in several topics,
says little; "refund", in one, says a lot. Frequency in the conversations is deliberately not used: it would make
the busiest topic's own words the weakest.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from bot.domain import ACTIVE_GAP_STATES, GapState
from bot.llm.redaction import scrubber_for
from bot.llm.remote import RemoteModel
from bot.services import Services
from bot.services.conversation_scan import SCAN_LIMIT, ConversationRow, as_utc, recent_conversations
from bot.services.gaps import question_for
from bot.text import stem, term_set, words
from storage.models import Article, Conversation, Gap

if TYPE_CHECKING:
    from bot.settings import Settings

log = logging.getLogger(__name__)

NOISE = frozenset(stem(w) for w in """long take takes took taking much many way still yet already anyone someone
    something anything thing things problem issue question help able go going make use used using try trying see
    look looking really sure wondering work works working cannot can't won't doesn't isn't didn't never again
    come comes came""".split())
TOPIC_THRESHOLD = 0.45  # term-set similarity for two gaps to share a topic
OVERLAP_WEIGHT = 0.8  # a short question contained in a longer one counts almost as a match
EMBED_THRESHOLD = 0.6  # cosine, when an embedder is used
MATCH_THRESHOLD = 0.5  # weighted share of a conversation's question found in a topic
MAX_GAPS = 2_000  # the most recent gaps are grouped
LABEL_TERMS = 3
SAMPLES = 5
_PLACEHOLDER = re.compile(r"\[[a-z_]+\]")  # what redaction leaves ("[email]", "[phone]")


def _norm(term: str) -> str:
    return term[:-1] if len(term) > 4 and term.endswith("e") else term  # "arrive" and "arrives" -> "arriv"


def terms(text: str) -> frozenset[str]:
    """Content terms without question filler, stemmed a little further than `bot.text` (a final e)."""
    return frozenset(_norm(t) for t in term_set(text) if t not in NOISE)


class Embedder(Protocol):
    name: str

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


class OpenAIEmbedder:
    """Embeddings through the OpenAI-compatible endpoint of the settings; requests leave through
    `bot.llm.remote.RemoteModel`, which redacts every text first."""

    def __init__(self, client: object, model: str = "text-embedding-3-small") -> None:
        self.remote = client if isinstance(client, RemoteModel) else RemoteModel(client)
        self.model, self.name = model, f"openai:{model}"

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return self.remote.embed(model=self.model, texts=texts)


def build_embedder(settings: Settings, model: str = "text-embedding-3-small") -> Embedder | None:
    """An embedder when the settings select OpenAI (FLYWHEEL_LLM_PROVIDER auto or openai) and hold a key; None
    (lexical topics) otherwise, so the offline provider and the tests never call out."""
    key = settings.openai_api_key.get_secret_value().strip() if settings.openai_api_key else ""
    if not key or not settings.use_openai:
        return None
    return OpenAIEmbedder(RemoteModel.from_settings(settings), model)


class Topic(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int  # the smallest gap id of the topic
    label: str  # its most shared terms
    gap_ids: list[int]
    open_gap_ids: list[int]  # open, drafting or failed
    verified_gap_ids: list[int]
    linked_conversation_ids: list[int]  # the conversations flagged or joined to its gaps
    conversations_touching: int = 0  # recent conversations whose question matches the topic best
    escalated: int = 0
    unresolved: int = 0
    low_csat: int = 0
    went_wrong: int = 0  # escalated, unresolved or low CSAT (each conversation once)
    impact: int = 0  # conversations_touching + went_wrong: a conversation that went wrong counts twice
    sample_conversation_ids: list[int] = []  # those that went wrong first, newest first


@dataclass(frozen=True)
class GapDoc:
    id: int
    state: str
    terms: frozenset[str]
    text: str
    title: str | None
    article_id: int | None
    verified_at: dt.datetime | None
    thread_channel: str | None
    thread_ts: str | None
    conversation_ids: tuple[int, ...]


@dataclass
class TopicIndex:
    """The topics, and what is needed to tell which one a question is about."""

    topics: list[Topic]
    docs: dict[int, GapDoc]
    weights: dict[int, dict[str, float]]  # topic id -> term -> share of its gaps that have it
    by_term: dict[str, list[int]] = field(default_factory=dict)  # term -> the topics that use it
    by_id: dict[int, Topic] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for tid, w in self.weights.items():
            for term in w:
                self.by_term.setdefault(term, []).append(tid)
        self.by_id = {t.id: t for t in self.topics}

    def weight(self, term: str) -> float:
        """1 / the number of topics using the term (1 for a term no topic uses)."""
        return 1.0 / max(1, len(self.by_term.get(term, ())))

    def score(self, question_terms: Iterable[str], weights: dict[str, float]) -> float:
        q = set(question_terms)
        mass = sum(self.weight(t) for t in q)
        return sum(self.weight(t) * weights.get(t, 0.0) for t in q) / mass if mass else 0.0

    def match(self, question: str) -> tuple[int, float] | None:
        """(topic id, score) of the topic the question is most about, if any reaches MATCH_THRESHOLD."""
        q = terms(question)
        candidates = sorted({tid for t in q for tid in self.by_term.get(t, ())})
        scored = [(self.score(q, self.weights[tid]), -tid) for tid in candidates]
        best = max(scored, default=None)
        return (-best[1], best[0]) if best and best[0] >= MATCH_THRESHOLD else None


def build_index(services: Services, *, embedder: Embedder | None = None) -> TopicIndex:
    """Group the gaps into topics (no transaction is held while an embedder is called)."""
    with services.session() as session:
        docs = _gap_docs(session, scrubber_for(services.settings))
    pairs = _embedded_pairs(docs, embedder) if embedder is not None and docs else None
    if pairs is None:
        pairs = _lexical_pairs(docs)
    by_article: dict[int, int] = {}
    for d in docs:  # one article fixed both: the same topic
        if d.article_id is not None:
            pairs.append((by_article.setdefault(d.article_id, d.id), d.id))
    groups = _components([d.id for d in docs], pairs)
    return _topics(groups, {d.id: d for d in docs})


def list_topics(services: Services, *, embedder: Embedder | None = None) -> list[Topic]:
    """Every topic (open or closed), by id, without impact figures."""
    return build_index(services, embedder=embedder).topics


def rank_topics(
    services: Services, *, now: dt.datetime, days: int = 28, embedder: Embedder | None = None,
    scan_limit: int = SCAN_LIMIT,
) -> list[Topic]:
    """Open topics (at least one active gap), by impact over the conversations imported or sampled in the last
    `days` (at most `scan_limit` of them): each is counted for the topic its opening question matches best."""
    index = build_index(services, embedder=embedder)
    since = as_utc(now) - dt.timedelta(days=days)
    with services.session() as session:
        convs = recent_conversations(session, since=since, until=now, sampled_since=since.date(), limit=scan_limit)
    touching: dict[int, list[ConversationRow]] = defaultdict(list)
    for conv in convs:
        if (found := index.match(conv.question)) is not None:
            touching[found[0]].append(conv)
    ranked = []
    for topic in index.topics:
        if not topic.open_gap_ids:
            continue
        rows = touching.get(topic.id, [])
        wrong = [c for c in rows if c.reasons()]
        samples = sorted(rows, key=lambda c: (not c.reasons(), -c.imported_at.timestamp(), -c.id))[:SAMPLES]
        ranked.append(topic.model_copy(update={
            "conversations_touching": len(rows), "escalated": sum(c.escalated for c in rows),
            "unresolved": sum(c.unresolved for c in rows), "low_csat": sum(c.low_csat for c in rows),
            "went_wrong": len(wrong), "impact": len(rows) + len(wrong),
            "sample_conversation_ids": [c.id for c in samples],
        }))
    return sorted(ranked, key=lambda t: (-t.impact, -len(t.open_gap_ids), t.id))


# --- building -------------------------------------------------------------------------------------
def _gap_docs(session: Session, scrub: Callable[[str], str]) -> list[GapDoc]:
    """Each gap's text (question, title, article title) redacted: labels, samples and embeddings are built from
    it, never from raw customer text. Redaction placeholders ("[email]") are not terms."""
    stmt = (select(Gap).where(Gap.state != GapState.DISMISSED.value).order_by(Gap.id.desc()).limit(MAX_GAPS)
            .options(selectinload(Gap.conversation).selectinload(Conversation.messages), selectinload(Gap.links)))
    gaps = list(session.scalars(stmt))
    article_ids = {g.article_id for g in gaps if g.article_id is not None}
    titles: dict[int | None, str] = {}
    if article_ids:
        titles.update((i, title) for i, title in session.execute(
            select(Article.id, Article.title).where(Article.id.in_(article_ids))))
    docs = []
    for g in sorted(gaps, key=lambda g: g.id):
        text = scrub(" ".join(filter(None, (question_for(g.conversation.messages, g.flagged_position), g.title,
                                            titles.get(g.article_id)))))
        docs.append(GapDoc(g.id, g.state, terms(_PLACEHOLDER.sub(" ", text)), text,
                           scrub(g.title) if g.title else None, g.article_id,
                           as_utc(g.verified_at) if g.verified_at else None, g.thread_channel, g.thread_ts,
                           tuple(sorted({lk.conversation_id for lk in g.links} | {g.conversation_id}))))
    return docs


def similarity(a: frozenset[str], b: frozenset[str]) -> float:
    """Jaccard, or most of the shorter set found in the longer one (a terse question inside a detailed one)."""
    common = len(a & b)
    if not common:
        return 0.0
    return max(common / len(a | b), OVERLAP_WEIGHT * common / min(len(a), len(b)))


def _lexical_pairs(docs: Sequence[GapDoc]) -> list[tuple[int, int]]:
    by_term: dict[str, list[int]] = defaultdict(list)
    for i, d in enumerate(docs):
        for t in d.terms:
            by_term[t].append(i)
    candidates = {(i, j) for ids in by_term.values() for i in ids for j in ids if i < j}
    return [(docs[i].id, docs[j].id) for i, j in sorted(candidates)
            if similarity(docs[i].terms, docs[j].terms) >= TOPIC_THRESHOLD]


def _embedded_pairs(docs: Sequence[GapDoc], embedder: Embedder) -> list[tuple[int, int]] | None:
    try:
        vectors = embedder.embed([d.text for d in docs])
    except Exception:  # noqa: BLE001 - embeddings are optional: fall back to lexical topics
        log.exception("embedding failed, using lexical topics embedder=%r gaps=%d", embedder.name, len(docs))
        return None
    norms = [math.sqrt(sum(x * x for x in v)) or 1.0 for v in vectors]
    unit = [[x / n for x in v] for v, n in zip(vectors, norms, strict=True)]
    return [(docs[i].id, docs[j].id) for i in range(len(docs)) for j in range(i + 1, len(docs))
            if sum(x * y for x, y in zip(unit[i], unit[j], strict=True)) >= EMBED_THRESHOLD]


def _components(ids: Sequence[int], pairs: Iterable[tuple[int, int]]) -> list[list[int]]:
    parent = {i: i for i in ids}

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in pairs:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, list[int]] = defaultdict(list)
    for i in ids:
        groups[root(i)].append(i)
    return sorted(sorted(g) for g in groups.values())


def _topics(groups: Sequence[list[int]], docs: dict[int, GapDoc]) -> TopicIndex:
    surface: dict[str, Counter[str]] = defaultdict(Counter)
    for d in docs.values():
        for w in words(_PLACEHOLDER.sub(" ", d.text)):
            surface[_norm(stem(w))][w] += 1
    topics, weights = [], {}
    for group in groups:
        members = [docs[g] for g in group]
        counts = Counter(t for d in members for t in d.terms)
        top = sorted(counts, key=lambda t: (-counts[t], t))[:LABEL_TERMS]
        label = ", ".join(surface[t].most_common(1)[0][0] if surface[t] else t for t in top)
        weights[group[0]] = {t: c / len(members) for t, c in counts.items()}
        topics.append(Topic(
            id=group[0], label=label or f"gap #{group[0]}", gap_ids=group,
            open_gap_ids=[d.id for d in members if GapState(d.state) in ACTIVE_GAP_STATES],
            verified_gap_ids=[d.id for d in members if d.state == GapState.VERIFIED.value],
            linked_conversation_ids=sorted({c for d in members for c in d.conversation_ids}),
        ))
    return TopicIndex(topics=topics, docs=docs, weights=weights)
