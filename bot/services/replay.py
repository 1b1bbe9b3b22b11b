"""Replay a conversation's user turns against the agent with a KB (live or shadow), then judge it.

The agent and the judge get the conversation as imported (a remote model receives it redacted through
`bot.llm.remote`); the stored run and its turns are derived data and are redacted. The returned outcome keeps
the text for the CLI; Slack builders redact conversation text themselves."""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from bot.agents import observe_identity
from bot.domain import ReplayKind, Role, Verdict
from bot.errors import NotFound
from bot.kb.search import ExtraDoc, Searcher
from bot.llm.base import ArticleSnippet, Judgement, JudgeRequest, Turn
from bot.llm.redaction import scrubber_for
from bot.services import Services
from bot.services.collateral import CollateralTurn, apply, changed_articles, find_collateral
from storage.models import Conversation, ReplayRun, ReplayTurn

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TurnResult:
    position: int  # position of the original answer in the conversation
    user_text: str
    original_answer: str | None
    new_answer: str
    sources: list[int]


@dataclass
class ReplayOutcome:
    run_id: int
    conversation_id: int
    kind: str
    turns: list[TurnResult]
    flagged_position: int | None
    before: str | None
    after: str | None
    verdict: Verdict | None = None
    reasons: list[str] = field(default_factory=list)
    confidence: float | None = None
    agreement: float | None = None
    missing_facts: list[str] = field(default_factory=list)
    collateral: list[CollateralTurn] = field(default_factory=list)  # other turns that got worse

    @property
    def passed(self) -> bool:
        """A clean pass: the flagged turn passes and no other turn got worse (that is `Verdict.COLLATERAL`)."""
        return self.verdict == Verdict.PASS


@dataclass(frozen=True)
class _Msg:
    position: int
    role: str
    text: str


def load_messages(services: Services, conversation_id: int) -> list[_Msg]:
    with services.session() as session:
        conv = session.scalar(
            select(Conversation).where(Conversation.id == conversation_id).options(selectinload(Conversation.messages))
        )
        if conv is None:
            raise NotFound(f"No conversation {conversation_id}. `flywheel sample` or `flywheel import` lists them.")
        return [_Msg(m.position, m.role, m.text) for m in conv.messages]


def replay_turns(
    services: Services,
    messages: Sequence[_Msg],
    searcher: Searcher,
    *,
    extra: Sequence[ExtraDoc] = (),
    replay_id: str | None = None,
) -> list[TurnResult]:
    """Feed the user turns in order; the agent's new answers (not the old ones) form the history."""
    history: list[Turn] = []
    results: list[TurnResult] = []
    pending: list[_Msg] = []

    def answer_at(position: int, original: str | None) -> None:
        reply = services.agent.reply(list(history), searcher, extra=extra, replay_id=replay_id)
        history.append(Turn(role=Role.AGENT, text=reply.text))
        results.append(
            TurnResult(position, " ".join(m.text for m in pending), original, reply.text, list(reply.sources))
        )
        pending.clear()

    for msg in messages:
        if msg.role == Role.USER:
            history.append(Turn(role=Role.USER, text=msg.text))
            pending.append(msg)
        elif msg.role in (Role.AGENT, Role.HUMAN) and pending:
            answer_at(msg.position, msg.text)
    if pending:
        answer_at(messages[-1].position + 1 if messages else 0, None)
    return results


def pick_turn(turns: Sequence[TurnResult], flagged_position: int | None) -> TurnResult | None:
    if not turns:
        return None
    if flagged_position is None:
        return turns[-1]
    earlier = [t for t in turns if t.position <= flagged_position]
    return earlier[-1] if earlier else turns[0]


def judge(services: Services, request: JudgeRequest) -> tuple[Judgement, float]:
    """Run the judge `judge_runs` times; return the majority judgement and the agreement (0..1)."""
    runs = [services.llm.judge(request) for _ in range(services.settings.judge_runs)]
    counts = Counter(j.verdict for j in runs)
    verdict, votes = counts.most_common(1)[0]
    if len(counts) > 1 and list(counts.values()).count(votes) > 1:
        verdict = Verdict.UNCLEAR  # a tie is not a pass
    chosen = [j for j in runs if j.verdict == verdict] or runs
    best = chosen[0].model_copy(
        update={"verdict": verdict, "confidence": round(sum(j.confidence for j in chosen) / len(chosen), 2)}
    )
    return best, votes / len(runs)


def replay(
    services: Services,
    *,
    conversation_id: int,
    kind: ReplayKind = ReplayKind.MANUAL,
    flagged_position: int | None = None,
    required_facts: Sequence[str] = (),
    reference: str = "",
    extra: Sequence[ExtraDoc] = (),
    gap_id: int | None = None,
    draft_id: int | None = None,
    case_id: int | None = None,
    actor: str | None = None,
    with_judge: bool = True,
    article_id: int | None = None,
    baseline: Mapping[int, str] | None = None,
) -> ReplayOutcome:
    """Replay and (optionally) judge; the run is stored only once everything succeeded. `article_id`: the
    article the change published (default: the gap's), for telling collateral regressions from other changes;
    `baseline`: the answers without the change by position (default: the conversation's original answers)."""
    messages = load_messages(services, conversation_id)
    ctx = services.kb.shadow(extra) if extra else services.kb.live()
    replay_id = uuid.uuid4().hex
    who = observe_identity(services.agent, name=services.settings.agent_name,
                           version=services.settings.agent_version)
    with ctx as searcher, who as agent_id:
        turns = replay_turns(services, messages, searcher, extra=extra, replay_id=replay_id)
        chosen = pick_turn(turns, flagged_position)
        judgement, agreement, collateral = None, None, []
        if with_judge and chosen is not None:
            hits = searcher.search(chosen.user_text, 3)
            excerpts = [ArticleSnippet(id=h.article_id, title=h.title, text=h.body) for h in hits]
            judgement, agreement = judge(
                services,
                JudgeRequest(
                    question=chosen.user_text,
                    before_answer=chosen.original_answer,
                    after_answer=chosen.new_answer,
                    required_facts=list(required_facts),
                    reference=reference,
                    kb_excerpts=excerpts,
                ),
            )
            collateral = find_collateral(
                services, turns, flagged_position=chosen.position, searcher=searcher,
                agent_positions={m.position for m in messages if m.role == Role.AGENT},
                changed=changed_articles(services, extra, gap_id=gap_id, article_id=article_id), baseline=baseline,
            )
            verdict, reasons = apply(judgement.verdict, list(judgement.reasons), collateral)
            judgement = judgement.model_copy(update={"verdict": verdict, "reasons": reasons})
    scrub = scrubber_for(services.settings)  # stored runs are derived data: redacted, whatever the provider
    with services.session() as session:
        run = ReplayRun(
            kind=str(kind),
            conversation_id=conversation_id,
            gap_id=gap_id,
            draft_id=draft_id,
            regression_case_id=case_id,
            kb_revision=services.kb.revision(session),
            agent_name=agent_id.name,
            agent_version=agent_id.version,
            model=agent_id.model,
            flagged_position=chosen.position if chosen else None,
            before_answer=scrub(chosen.original_answer) if chosen and chosen.original_answer else None,
            after_answer=scrub(chosen.new_answer) if chosen else None,
            verdict=str(judgement.verdict) if judgement else None,
            reasons=[scrub(r) for r in judgement.reasons] if judgement else [],
            confidence=judgement.confidence if judgement else None,
            agreement=agreement,
            collateral=[c.to_json(scrub) for c in collateral] if judgement else None,
            judge_runs=services.settings.judge_runs if judgement else 0,
            provider=services.llm.name,
            created_by=actor,
            created_at=services.clock(),
        )
        session.add(run)
        session.flush()
        session.add_all(
            ReplayTurn(
                run_id=run.id,
                position=t.position,
                user_text=scrub(t.user_text),
                original_answer=scrub(t.original_answer) if t.original_answer else t.original_answer,
                new_answer=scrub(t.new_answer),
                sources=t.sources,
            )
            for t in turns
        )
        run_id = run.id
    log.info("replay stored run_id=%r conversation_id=%r kind=%r verdict=%r", run_id, conversation_id, str(kind),
             judgement.verdict if judgement else None)
    return ReplayOutcome(
        run_id=run_id,
        conversation_id=conversation_id,
        kind=str(kind),
        turns=turns,
        flagged_position=chosen.position if chosen else None,
        before=chosen.original_answer if chosen else None,
        after=chosen.new_answer if chosen else None,
        verdict=judgement.verdict if judgement else None,
        reasons=list(judgement.reasons) if judgement else [],
        confidence=judgement.confidence if judgement else None,
        agreement=agreement,
        missing_facts=list(judgement.missing_facts) if judgement else [],
        collateral=collateral,
    )
