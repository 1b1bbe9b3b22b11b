"""The daily sample: a risk-ranked share plus a random share, reproducible for a given day.

Both shares are indexed range scans (`sampled_on IS NULL` + `risk_score` / `sample_key`), so the cost
does not grow with the number of stored conversations.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from bot.services import Services
from storage.models import Conversation, Digest, DigestItem

KEY_SPACE = 1 << 62
RANDOM_REASON = "random share"
# The one reason a digest item shows: the most direct evidence of a knowledge gap first (the risk weights rank
# "escalated" highest, but a handover says less about missing knowledge than the agent saying it did not know).
REASON_STRENGTH = (
    "agent said it did not know",
    "human answered after handover",
    "escalated",
    "low CSAT",
    "unresolved",
    "low retrieval score",
    "long conversation",
)


@dataclass(frozen=True)
class SampleItem:
    item_id: int
    conversation_id: int
    external_id: str
    pick: str  # "risk" | "random"
    reasons: list[str]


def strongest_reason(reasons: Sequence[str], pick: str = "risk") -> str | None:
    """The strongest of an item's reasons (`REASON_STRENGTH`; unknown reasons after the known ones, in their
    order), or `RANDOM_REASON` for the random share."""
    if pick == "random":
        return RANDOM_REASON
    known = {r: i for i, r in enumerate(REASON_STRENGTH)}
    ranked = sorted(enumerate(str(r) for r in reasons), key=lambda p: (known.get(p[1], len(known)), p[0]))
    return ranked[0][1] if ranked else None


def day_seed(day: dt.date) -> int:
    digest = hashlib.blake2b(f"flywheel-sample-{day.isoformat()}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 2


def split_sizes(n: int, random_share: float) -> tuple[int, int]:
    """(risk, random) counts; a non-zero share always yields at least one random item when n > 1."""
    n_random = round(n * random_share)
    if random_share > 0 and n > 1:
        n_random = max(1, n_random)
    return n - n_random, n_random


def _risk_ids(session: Session, k: int, exclude: set[int]) -> list[int]:
    if k <= 0:
        return []
    stmt = (
        select(Conversation.id)
        .where(Conversation.sampled_on.is_(None), Conversation.risk_score > 0)
        .order_by(Conversation.risk_score.desc(), Conversation.id.desc())  # one backward index scan
        .limit(k + len(exclude))
    )
    return [cid for cid in session.scalars(stmt) if cid not in exclude][:k]


def _random_ids(session: Session, k: int, seed: int, exclude: set[int]) -> list[int]:
    """The first k unsampled conversations at or after the day's seed on the key ring (wrapping)."""
    if k <= 0:
        return []
    picked: list[int] = []
    for lower, upper in ((seed, KEY_SPACE), (0, seed)):
        stmt = (
            select(Conversation.id)
            .where(
                Conversation.sampled_on.is_(None),
                Conversation.sample_key >= lower,
                Conversation.sample_key < upper,
            )
            .order_by(Conversation.sample_key)
            .limit(k + len(exclude))
        )
        for cid in session.scalars(stmt):
            if cid not in exclude and cid not in picked:
                picked.append(cid)
                if len(picked) == k:
                    return picked
    return picked


def create_sample(
    services: Services, *, day: dt.date, channel: str, size: int | None = None, random_share: float | None = None
) -> tuple[int, list[SampleItem]]:
    """Pick (or return the already picked) sample for `day` and `channel`. Returns (digest_id, items)."""
    size = size or services.settings.digest_size
    share = services.settings.random_share if random_share is None else random_share
    with services.session() as session:
        digest = session.scalar(select(Digest).where(Digest.day == day, Digest.channel == channel))
        if digest is None:
            digest = Digest(day=day, channel=channel, created_at=services.clock())
            session.add(digest)
            session.flush()
            n_risk, n_random = split_sizes(size, share)
            # The random share is drawn first, from every unreviewed conversation, so the gap rate
            # estimated from it is unbiased; the risk share then takes the riskiest of the rest.
            seed = day_seed(day)
            rand = _random_ids(session, n_random, seed, set())
            risk = _risk_ids(session, n_risk, set(rand))
            if len(risk) < n_risk:  # not enough risky conversations: fill with more random ones
                rand += _random_ids(session, n_risk - len(risk), seed, set(rand) | set(risk))
            convs = {
                c.id: c
                for c in session.scalars(select(Conversation).where(Conversation.id.in_(risk + rand)))
            }
            for pos, (cid, pick) in enumerate([(c, "risk") for c in risk] + [(c, "random") for c in rand]):
                conv = convs[cid]
                conv.sampled_on = day
                session.add(
                    DigestItem(
                        digest_id=digest.id,
                        conversation_id=cid,
                        position=pos,
                        pick=pick,
                        reasons=list(conv.risk_reasons) if pick == "risk" else [RANDOM_REASON],
                        channel=channel,
                    )
                )
            session.flush()
        items = session.scalars(
            select(DigestItem)
            .where(DigestItem.digest_id == digest.id)
            .options(selectinload(DigestItem.conversation))
            .order_by(DigestItem.position)
        ).all()
        return digest.id, [
            SampleItem(i.id, i.conversation_id, i.conversation.external_id, i.pick, list(i.reasons)) for i in items
        ]
