"""Risk ranking of a conversation, computed once at import and stored (indexed) for cheap sampling."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.domain import Role
from bot.text import says_dont_know

LONG_CONVERSATION = 12  # messages
LOW_CSAT = 2.0  # on a 1-5 scale (<= is low); 0-1 scales are rescaled
LOW_RETRIEVAL = 0.3

WEIGHTS = {
    "escalated": 3.0,
    "human answered after handover": 2.0,
    "unresolved": 2.0,
    "low CSAT": 2.0,
    "agent said it did not know": 2.0,
    "low retrieval score": 1.0,
    "long conversation": 1.0,
}


@dataclass(frozen=True)
class MessageView:
    role: str
    text: str
    meta: Mapping[str, object]


def normalize_csat(value: float | None) -> float | None:
    if value is None:
        return None
    # 0 <= x < 1 is a 0-1 satisfaction score; 1 itself is the lowest mark on the usual 1-5 scale.
    return value * 5.0 if 0.0 <= value < 1.0 else value


def score_risk(
    *,
    resolved: bool | None,
    escalated: bool | None,
    csat: float | None,
    messages: Sequence[MessageView],
) -> tuple[float, list[str]]:
    """Return (score, reasons). Higher means more likely to hide a knowledge gap."""
    reasons: list[str] = []
    roles = [m.role for m in messages]
    if escalated or Role.HUMAN in roles:
        reasons.append("escalated")
    if Role.HUMAN in roles and Role.AGENT in roles:
        reasons.append("human answered after handover")
    if resolved is False:
        reasons.append("unresolved")
    csat5 = normalize_csat(csat)
    if csat5 is not None and csat5 <= LOW_CSAT:
        reasons.append("low CSAT")
    if any(m.role == Role.AGENT and says_dont_know(m.text) for m in messages):
        reasons.append("agent said it did not know")
    scores = [m.meta.get("retrieval_score") for m in messages if m.role == Role.AGENT]
    if any(isinstance(s, int | float) and s < LOW_RETRIEVAL for s in scores):
        reasons.append("low retrieval score")
    if len(messages) >= LONG_CONVERSATION:
        reasons.append("long conversation")
    return sum(WEIGHTS[r] for r in reasons), reasons


def sample_key(source: str, external_id: str) -> int:
    """A stable pseudo-random 62-bit key: the random share is an indexed range scan over it."""
    digest = hashlib.blake2b(f"{source}\x00{external_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 2
