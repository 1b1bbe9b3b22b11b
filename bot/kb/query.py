"""Search queries: plain text, or a whole conversation with the last user turn weighing most.

A `ConversationQuery` is a `str` (the last user turns, for any searcher that reads text) that also carries
weighted terms. The last user turn's terms weigh 1; a turn `d` messages before it weighs
`HISTORY_SCALE * TURN_DECAY ** d`, times `AGENT_WEIGHT` for agent and human turns, times
`sqrt(TURN_TERMS / n)` when it has `n > TURN_TERMS` distinct terms (a long answer does not drown the
question). A term said in several turns adds up, to at most `REPEAT_CAP`. One setting for every KB, tuned
two-fold on MTRAG-UN and DSTC10 (`python -m bench.kb_recall`)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Protocol

from bot.kb.tokens import terms

TURN_DECAY = 0.85
AGENT_WEIGHT = 1.0
HISTORY_SCALE = 1.0
TURN_TERMS = 10
REPEAT_CAP = 1.0
MIX = 2.0
MAX_TERMS = 64
USER_ROLES = frozenset({"user", "customer"})
SKIPPED_ROLES = frozenset({"system"})


class TurnLike(Protocol):
    @property
    def role(self) -> str: ...

    @property
    def text(self) -> str: ...


class ConversationQuery(str):
    """Text for plain searchers, weighted terms for the built-in index."""

    weights: dict[str, float]  # the whole conversation
    focus: dict[str, float]  # the last user turn alone
    mix: float  # how much the conversation counts beside the last turn (bot.kb.bm25.rank)
    last: str  # the last user turn's text (what a re-ranker embeds)
    context: frozenset[str]  # the terms said before the last user turn (bot.kb.embeddings: titles it names)

    def __new__(cls, text: str, weights: Mapping[str, float], focus: Mapping[str, float] | None = None,
                mix: float = 0.0, *, last: str | None = None,
                context: Iterable[str] = ()) -> ConversationQuery:
        self = super().__new__(cls, text)
        self.weights, self.focus, self.mix = dict(weights), dict(focus or {}), mix
        self.last, self.context = text if last is None else last, frozenset(context)
        return self


def last_turn(query: str) -> str:
    """The text a re-ranker embeds: the last user turn of a conversation query, or the plain query."""
    return query.last if isinstance(query, ConversationQuery) else str(query)


def context_terms(query: str) -> frozenset[str]:
    """The terms said before the last user turn (none for a plain query)."""
    return query.context if isinstance(query, ConversationQuery) else frozenset()


def text_weights(text: str) -> dict[str, float]:
    """A plain query: each distinct term once."""
    return {t: 1.0 for t in dict.fromkeys(terms(text))}


def weights_of(query: str) -> dict[str, float]:
    if isinstance(query, ConversationQuery):
        return query.weights
    return text_weights(query)


def conversation_query(
    turns: Iterable[TurnLike | tuple[str, str]],
    *,
    decay: float | None = None,
    agent_weight: float | None = None,
    history_scale: float | None = None,
    turn_terms: int | None = None,
    repeat_cap: float | None = None,
    mix: float | None = None,
    max_terms: int = MAX_TERMS,
) -> ConversationQuery:
    """The query for the conversation up to (and including) its last user turn; later turns are ignored.
    The keyword arguments override the module's setting (the benchmark tunes them)."""
    decay = TURN_DECAY if decay is None else decay
    agent_weight = AGENT_WEIGHT if agent_weight is None else agent_weight
    history_scale = HISTORY_SCALE if history_scale is None else history_scale
    turn_terms = TURN_TERMS if turn_terms is None else turn_terms
    repeat_cap = REPEAT_CAP if repeat_cap is None else repeat_cap
    mix = MIX if mix is None else mix
    pairs = [(t if isinstance(t, tuple) else (str(t.role), t.text)) for t in turns]
    pairs = [(role.lower(), text) for role, text in pairs if role.lower() not in SKIPPED_ROLES]
    last = max((i for i, (role, _) in enumerate(pairs) if role in USER_ROLES), default=None)
    if last is None:
        return ConversationQuery("", {})
    weights: dict[str, float] = {}
    context: set[str] = set()
    for distance, (role, text) in enumerate(reversed(pairs[: last + 1])):
        if decay**distance < 1e-3:
            break
        found = list(dict.fromkeys(terms(text)))
        if not found:
            continue
        w = 1.0
        if distance:
            context.update(found)
            w = history_scale * decay**distance * (1.0 if role in USER_ROLES else agent_weight)
            if turn_terms and len(found) > turn_terms:
                w *= math.sqrt(turn_terms / len(found))
        for term in found:
            weights[term] = min(repeat_cap, weights.get(term, 0.0) + w)
    best = dict(sorted(weights.items(), key=lambda kv: -kv[1])[:max_terms])
    users = [text for role, text in pairs[: last + 1] if role in USER_ROLES]
    focus = text_weights(pairs[last][1])
    return ConversationQuery(" ".join(users[-2:]), best, focus if last > 0 else None, mix, last=pairs[last][1],
                             context=context)
