"""Collateral regressions: the other agent turns of a replay, compared before and after a KB change.

A fix is judged on the flagged turn; but an article can also change how the agent answers the rest of the
conversation. Every other agent turn whose answer changed is put to the model (`llm.compare`): a turn that is
worse after (contradicts the KB, drops a fact it gave, answers something else) is a collateral regression, and
a PASS on the flagged turn becomes `Verdict.COLLATERAL`: not a clean pass."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from sqlalchemy import select

from bot.domain import Verdict
from bot.kb.search import ExtraDoc, Searcher
from bot.llm.base import ArticleSnippet, Change, TurnCompareRequest
from bot.services import Services
from storage.models import Gap

log = logging.getLogger(__name__)


class _Turn(Protocol):
    @property
    def position(self) -> int: ...
    @property
    def user_text(self) -> str: ...
    @property
    def original_answer(self) -> str | None: ...
    @property
    def new_answer(self) -> str: ...
    @property
    def sources(self) -> list[int]: ...


@dataclass(frozen=True)
class CollateralTurn:
    """Another turn of the conversation that got worse: its question, the answer before and after, and why."""

    position: int
    question: str
    before: str
    after: str
    reason: str

    def to_json(self, scrub: Callable[[str], str]) -> dict[str, Any]:
        """The stored form (derived data: redacted)."""
        row = asdict(self)
        for key in ("question", "before", "after", "reason"):
            row[key] = scrub(row[key])
        return row

    @classmethod
    def from_json(cls, row: dict[str, Any]) -> CollateralTurn:
        return cls(int(row.get("position", 0)), str(row.get("question", "")), str(row.get("before", "")),
                   str(row.get("after", "")), str(row.get("reason", "")))


def _same(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def find_collateral(
    services: Services,
    turns: Sequence[_Turn],
    *,
    flagged_position: int | None,
    agent_positions: set[int],
    searcher: Searcher,
    changed: set[int] | None = None,
    baseline: Mapping[int, str] | None = None,
) -> list[CollateralTurn]:
    """Compare every other agent turn whose answer changed; return those the model finds worse. With `changed`
    (the articles the change added or edited), a turn answered from none of them was not touched by the change
    (when the agent names its sources at all): it is not the change's collateral, whatever it says. `baseline`:
    the answers without the change, by position, when the caller has them (default: the conversation's own)."""
    worse: list[CollateralTurn] = []
    if changed is not None and not any(t.sources for t in turns):
        changed = None  # this agent does not name its sources: compare every turn that changed
    for turn in turns:
        before = baseline.get(turn.position) if baseline is not None else turn.original_answer
        if turn.position == flagged_position or turn.position not in agent_positions or not before:
            continue
        if _same(before, turn.new_answer):
            continue
        if changed is not None and not changed & set(turn.sources):
            continue
        hits = searcher.search(turn.user_text, 3)
        excerpts = [ArticleSnippet(id=h.article_id, title=h.title, text=h.body) for h in hits]
        result = services.llm.compare(TurnCompareRequest(
            question=turn.user_text, before_answer=before, after_answer=turn.new_answer, kb_excerpts=excerpts,
        ))
        if result.change == Change.WORSE:
            worse.append(CollateralTurn(turn.position, turn.user_text, before, turn.new_answer, result.reason))
    if worse:
        log.info("collateral regressions found count=%d positions=%r", len(worse), [c.position for c in worse])
    return worse


def changed_articles(services: Services, extra: Sequence[ExtraDoc], *, gap_id: int | None,
                     article_id: int | None) -> set[int] | None:
    """The article ids the change touched: the shadow drafts (negative ids, or the article they replace), or
    the published article (given, or the gap's). None: unknown, so every changed turn is compared."""
    if extra:
        return {d.replaces if d.replaces is not None else -i for i, d in enumerate(extra, start=1)}
    if article_id is None and gap_id is not None:
        with services.session() as session:
            article_id = session.scalar(select(Gap.article_id).where(Gap.id == gap_id))
    return {article_id} if article_id is not None else None


def apply(verdict: Verdict, reasons: list[str], collateral: Sequence[CollateralTurn]) -> tuple[Verdict, list[str]]:
    """The run's verdict: a PASS with collateral regressions is COLLATERAL; the reasons name each turn."""
    if not collateral:
        return verdict, reasons
    named = [f"Another turn got worse (message {c.position}): {c.reason}" for c in collateral]
    return (Verdict.COLLATERAL if verdict == Verdict.PASS else verdict), [*reasons, *named]
