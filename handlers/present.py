"""Service results → the builders' view models (pure: no I/O, no Slack calls, no DB).

Also three small messages `bot/blocks` has no builder for (a one-line notice, KB search hits, a manual
replay and a regression summary), assembled from the same safe pieces (`bot.blocks.common`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from bot.blocks.common import (
    Message,
    bullets,
    context,
    esc,
    excerpt,
    fields_section,
    header,
    message,
    quote,
    section,
)
from bot.blocks.models import (
    AgentTurnChoice,
    CollateralView,
    ConflictLinesView,
    ConflictView,
    ConversationView,
    DigestSummary,
    DraftView,
    ErrorView,
    FlagView,
    GapSummary,
    HomeView,
    MatchView,
    OutlineSectionView,
    OutlineView,
    StatsNumbers,
    TargetChoice,
    TopicView,
    TurnView,
    VerdictView,
)
from bot.blocks.notices import build_error_message
from bot.blocks.target import build_conflict_message
from bot.domain import Role
from bot.errors import FlywheelError
from bot.kb.search import Hit
from bot.kb.sync_merge import UpdateConflict
from bot.llm.base import Outline
from bot.services.gaps import GapMatch
from bot.services.help_centre import ArticleConflict, TargetCandidate
from bot.services.insight import GapDetail
from bot.services.regression import RegressionResult
from bot.services.replay import ReplayOutcome
from bot.services.threads import DigestInfo, DraftInfo, GapRow

MAX_HITS = 5
MAX_REPLAY_TURNS = 8


# --- the gap thread -------------------------------------------------------------------------------
def flag_view(detail: GapDetail) -> FlagView:
    flaggers = list(detail.flaggers) or [detail.owner or "someone"]
    return FlagView(
        gap_id=detail.id,
        flagged_by=flaggers[0],
        co_flaggers=tuple(flaggers[1:]),
        agent_turns=tuple(AgentTurnChoice(p, text) for p, role, text in detail.turns if role == Role.AGENT),
        flagged_position=detail.flagged_position,
        state=detail.state,
        notes_count=len(detail.notes),
        owner=detail.owner,
        kind=detail.kind,
    )


def outline_view(outline: Outline | None, provider: str | None = None) -> OutlineView | None:
    if outline is None:
        return None
    return OutlineView(
        title=outline.title,
        summary=outline.summary,
        kind=str(outline.kind),
        sections=tuple(OutlineSectionView(s.heading, tuple(s.points)) for s in outline.sections),
        required_facts=tuple(outline.required_facts),
        questions=tuple(outline.questions_for_experts),
        provider=provider,
        update_article_id=outline.update_article_ids[0] if outline.update_article_ids else None,
    )


def target_choice(candidate: TargetCandidate) -> TargetChoice:
    return TargetChoice(article_id=candidate.article_id, title=candidate.title, section=candidate.section)


def match_view(match: GapMatch, *, conversation_id: int, user: str, item_id: int | None) -> MatchView:
    return MatchView(
        gap_id=match.gap_id, gap_title=match.title or f"gap #{match.gap_id}", conversation_id=conversation_id,
        flagged_by=user, item_id=item_id, owner=match.owner, state=match.state,
    )


def draft_view(draft: DraftInfo, *, state: str = "draft") -> DraftView:
    return DraftView(
        gap_id=draft.gap_id, draft_id=draft.draft_id, title=draft.title, body=draft.body,
        author=draft.created_by, provider=None if draft.provider == "human" else draft.provider,
        revision=draft.revision, last_test=draft.last_test, state=state, notes_folded=draft.notes_folded,
        notes_now=draft.notes_now,
    )


def verdict_view(
    outcome: ReplayOutcome, *, gap_id: int, article_title: str, draft_id: int | None, question: str | None = None,
    article_id: int | None = None, article_version: int | None = None,
) -> VerdictView:
    return VerdictView(
        gap_id=gap_id,
        verdict=str(outcome.verdict) if outcome.verdict is not None else "unclear",
        before=outcome.before,
        after=outcome.after or "",
        reasons=tuple(outcome.reasons),
        confidence=outcome.confidence,
        article_title=article_title,
        draft_id=draft_id,
        kind=outcome.kind,
        question=question,
        missing_facts=tuple(outcome.missing_facts),
        run_id=outcome.run_id if outcome.verdict is not None else None,
        collateral=tuple(CollateralView(c.position, c.question, c.before, c.after, c.reason)
                         for c in outcome.collateral),
        article_id=article_id,
        article_version=article_version,
    )


def conversation_view(
    conversation_id: int, ref: str, turns: Sequence[tuple[int, str, str]], flagged_position: int | None = None
) -> ConversationView:
    return ConversationView(
        conversation_id=conversation_id, conversation_ref=ref,
        turns=tuple(TurnView(p, role, text) for p, role, text in turns), flagged_position=flagged_position,
    )


def conflict_view(conflict: UpdateConflict, *, gap_id: int) -> ConflictView:
    title, url = ((conflict.title, conflict.url) if isinstance(conflict, ArticleConflict)
                  else (f"article #{conflict.article_id}", None))
    return ConflictView(gap_id=gap_id, article_id=conflict.article_id, article_title=title, article_url=url,
                        conflicts=tuple(ConflictLinesView(tuple(c.base), tuple(c.theirs), tuple(c.ours))
                                        for c in conflict.conflicts))


def failure_message(exc: FlywheelError, *, retry: str | None, gap_id: int | None, draft_id: int | None) -> Message:
    """What a slow step shows in place of its placeholder when it is refused: a publish the help centre's edits
    refused is the conflict message (its lines, and *Rewrite from the help centre*); anything else the user-safe
    error, with a retry button when trying again can help."""
    if isinstance(exc, UpdateConflict) and gap_id is not None:
        return build_conflict_message(conflict_view(exc, gap_id=gap_id))
    return build_error_message(ErrorView(message=exc.message, retry_action=retry, gap_id=gap_id, draft_id=draft_id))


# --- lists and the Home tab -------------------------------------------------------------------------
def gap_summary(row: GapRow, *, now: dt.datetime, permalink: str | None = None) -> GapSummary:
    flagged_at = row.flagged_at if row.flagged_at.tzinfo else row.flagged_at.replace(tzinfo=dt.UTC)
    return GapSummary(
        gap_id=row.gap_id, title=row.title or "(no outline yet)", state=row.state, kind=row.kind,
        conversation_ref=row.conversation_ref, flagged_by=row.flagged_by, owner=row.owner,
        age_days=max(0, (now - flagged_at).days), permalink=permalink, flaggers=max(1, row.flaggers),
    )


def digest_summary(info: DigestInfo | None, permalink: str | None = None) -> DigestSummary | None:
    if info is None:
        return None
    return DigestSummary(day=info.day.isoformat(), count=info.count, reviewed=info.reviewed,
                         flagged=info.flagged, permalink=permalink)


def home_view(
    user: str, *, mine: Sequence[GapRow], backlog: Sequence[GapRow], backlog_total: int, now: dt.datetime,
    week: StatsNumbers | None, last_digest: DigestSummary | None, review_channel: str | None,
    topics: Sequence[TopicView] = (), week_before: StatsNumbers | None = None,
) -> HomeView:
    return HomeView(
        user_id=user,
        my_gaps=tuple(gap_summary(r, now=now) for r in mine if r.state != "drafting"),
        my_drafts=tuple(gap_summary(r, now=now) for r in mine if r.state == "drafting" and r.owner == user),
        backlog=tuple(gap_summary(r, now=now) for r in backlog),
        backlog_total=backlog_total,
        week=week,
        week_before=week_before,
        last_digest=last_digest,
        review_channel=review_channel,
        topics=tuple(topics),
    )


# --- small messages without a builder in bot/blocks ---------------------------------------------------
def notice(text: str) -> Message:
    """One line of already-safe mrkdwn (mentions via `mention()`, anything else through `esc()`)."""
    return message(text, [section(text)])


def search_message(query: str, hits: Sequence[Hit]) -> Message:
    q = esc(query, 200)
    if not hits:
        return notice(f":mag: No article matches “{q}”.")
    blocks = [section(f":mag: *{len(hits)} article{'s' if len(hits) != 1 else ''}* for “{q}”")]
    for hit in hits[:MAX_HITS]:
        blocks.append(section(f"*{esc(hit.title, 200)}* (#{hit.article_id})\n{esc(hit.body, 400)}"))
    return message(f"Knowledge base search: {q}", blocks)


def replay_message(ref: str, outcome: ReplayOutcome) -> Message:
    """A manual replay (no judge): every replayed turn, before and after."""
    r = esc(ref, 80)
    blocks = [header(f"Replay of {ref}"), context(f"Conversation `{r}` against today's knowledge base · "
                                                  f"{len(outcome.turns)} agent turns")]
    for turn in outcome.turns[:MAX_REPLAY_TURNS]:
        before = quote(excerpt(turn.original_answer, 900)) if turn.original_answer else "_(no answer)_"
        after = quote(excerpt(turn.new_answer, 900)) if turn.new_answer else "_(no answer)_"
        blocks.append(section(f"*Customer:* {excerpt(turn.user_text, 400)}"))
        blocks.append(fields_section([f"*Before*\n{before}", f"*After*\n{after}"]))
    if len(outcome.turns) > MAX_REPLAY_TURNS:
        blocks.append(context(f"_{len(outcome.turns) - MAX_REPLAY_TURNS} more turns not shown._"))
    return message(f"Replay of conversation {r}: {len(outcome.turns)} turns", blocks)


def regress_message(results: Sequence[RegressionResult]) -> Message:
    broke = [r for r in results if r.broke]
    errors = [r for r in results if r.error]
    passing = sum(1 for r in results if r.verdict == "pass")
    icon = ":white_check_mark:" if not broke and not errors else ":x:"
    lines = [f"{icon} *Regression suite:* {passing}/{len(results)} passing, {len(broke)} broke."]
    details = [
        f"gap #{r.gap_id} (case {r.case_id}): {r.error or r.verdict or 'no verdict'}, fixed by "
        f"{r.fixed_by or 'unknown'}"
        for r in (broke + [e for e in errors if e not in broke])
    ]
    if details:
        lines.append(bullets(details))
    text = "\n".join(lines)
    return message(f"Regression suite: {passing}/{len(results)} passing, {len(broke)} broke", [section(text)])


