"""From a gap to a tested draft: outline, draft, shadow test (publishing: `bot.services.publishing`)."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.domain import ACTIVE_GAP_STATES, GapKind, GapState, ReplayKind, Role
from bot.errors import IllegalTransition, InvalidInput
from bot.kb.search import ExtraDoc, conversation_query
from bot.llm.base import ArticleSnippet, DraftArticle, GapContext, Outline, Turn, one_line_title
from bot.llm.redaction import redact_draft, redact_outline, scrubber_for
from bot.publishers import public_text
from bot.services import Services
from bot.services.gap_state import audit, ensure_can, get_gap, transition
from bot.services.help_centre import update_draft
from bot.services.matching import question_for
from bot.services.permissions import spend
from bot.services.replay import ReplayOutcome, replay
from storage.models import Article, Conversation, Draft, Gap, GapConversation
from storage.models import Outline as OutlineRow

log = logging.getLogger(__name__)

# What of the notes goes into a prompt (a thread can hold hundreds, a note can be a pasted 100 KB log): the newest
# notes, each cut at MAX_NOTE_CHARS, at most MAX_PROMPT_NOTES of them and MAX_NOTES_CHARS in all (docs/SECURITY.md).
MAX_PROMPT_NOTES = 50
MAX_NOTE_CHARS = 2_000
MAX_NOTES_CHARS = 20_000


def prompt_notes(notes: list[str]) -> list[str]:
    """The notes a prompt carries, oldest first: the newest that fit the caps above, a long one cut with "…"."""
    kept: list[str] = []
    room = MAX_NOTES_CHARS
    for text in reversed(notes):
        note = text if len(text) <= MAX_NOTE_CHARS else text[:MAX_NOTE_CHARS - 1] + "…"
        if len(kept) >= MAX_PROMPT_NOTES or len(note) > room:
            break
        kept.append(note)
        room -= len(note)
    return kept[::-1]


def latest_outline(session: Session, gap_id: int) -> OutlineRow | None:
    return session.scalar(select(OutlineRow).where(OutlineRow.gap_id == gap_id).order_by(OutlineRow.id.desc()))


def latest_draft(session: Session, gap_id: int) -> Draft | None:
    return session.scalar(select(Draft).where(Draft.gap_id == gap_id).order_by(Draft.id.desc()))


def gap_context(services: Services, session: Session, gap: Gap) -> GapContext:
    """What the model may see, delimited as data by the provider. A remote model gets it redacted by the one
    choke point (`bot.llm.remote`); whatever any provider derives from it is redacted by `suggest_outline` and
    `write_draft` before it is stored, posted or published."""
    messages = gap.conversation.messages
    pos = gap.flagged_position
    answer = next((m.text for m in messages if m.position == pos), "")
    human = next((m.text for m in messages if m.role == Role.HUMAN and (pos is None or m.position > pos)), None)
    question = question_for(messages, pos)
    # the conversation up to the flagged turn, the question weighing most: "articles to update instead"
    before = [m for m in messages if pos is None or m.position < pos]
    hits = services.kb.search(conversation_query([(m.role, m.text) for m in before]), 3) if question else []
    return GapContext(
        gap_id=gap.id,
        kind=GapKind(gap.kind),
        conversation_ref=gap.conversation.external_id,
        transcript=[Turn(role=m.role, text=m.text) for m in messages],
        question=question,
        agent_answer=answer,
        human_answer=human,
        related_articles=[ArticleSnippet(id=h.article_id, title=h.title, text=h.body) for h in hits],
        notes=prompt_notes([n.text for n in gap.notes]),
        other_conversation_refs=[r for r in linked_refs(session, gap) if r != gap.conversation.external_id],
    )


def suggest_outline(services: Services, *, gap_id: int, user: str | None) -> Outline:
    """Ask the model for an outline (no DB transaction is held during the call)."""
    spend(services, user, "suggest an outline")
    with services.session() as session:
        gap = get_gap(session, gap_id)
        if GapState(gap.state) not in ACTIVE_GAP_STATES:
            raise IllegalTransition(f"Gap #{gap_id} is {gap.state}; outlines are for open gaps.")
        ctx = gap_context(services, session, gap)
    outline = redact_outline(services.llm.outline(ctx), scrubber_for(services.settings))  # any provider
    save_outline(services, gap_id=gap_id, outline=outline, user=user)
    return outline


def save_outline(services: Services, *, gap_id: int, outline: Outline, user: str | None) -> int:
    with services.session() as session:
        gap = get_gap(session, gap_id)
        row = OutlineRow(gap_id=gap_id, content=outline.model_dump(mode="json"), provider=services.llm.name,
                         created_by=user, created_at=services.clock())
        session.add(row)
        gap.title = one_line_title(outline.title)  # a model may send a paragraph (or skip validation)
        gap.kind = outline.kind.value
        session.flush()
        audit(session, gap, "outlined", actor=user, now=services.clock(), outline_id=row.id)
        return row.id


def get_outline(services: Services, gap_id: int) -> Outline | None:
    with services.session() as session:
        get_gap(session, gap_id)
        row = latest_outline(session, gap_id)
        return Outline.model_validate(row.content) if row else None


def write_draft(services: Services, *, gap_id: int, user: str | None) -> Draft:
    """Draft from the latest outline (made first if missing) plus every note so far."""
    spend(services, user, "write the draft")
    outline = get_outline(services, gap_id) or suggest_outline(services, gap_id=gap_id, user=user)
    with services.session() as session:
        gap = get_gap(session, gap_id)
        if gap.state != GapState.DRAFTING.value:
            ensure_can(gap, GapState.DRAFTING)  # the transition itself happens with the draft
        ctx = gap_context(services, session, gap)
        folded = len(gap.notes)  # every note so far counts as folded in, the ones past the caps too
    article = redact_draft(services.llm.draft(ctx, outline), scrubber_for(services.settings))  # any provider
    article = update_draft(services, outline=outline, drafted=article)  # an update: the article plus the change
    return save_draft(services, gap_id=gap_id, article=article, outline=outline, user=user,
                      notes_folded=folded)


def save_draft(
    services: Services, *, gap_id: int, article: DraftArticle, outline: Outline | None, user: str | None,
    notes_folded: int | None = None,
) -> Draft:
    """A new draft row. `notes_folded`: the notes it was written from (None: a person's edit keeps the count of
    the draft it edits)."""
    if not article.title.strip() or not article.body.strip():
        raise InvalidInput("A draft needs a title and a body.")
    now = services.clock()
    with services.session() as session:
        gap = get_gap(session, gap_id)
        if gap.state != GapState.DRAFTING.value:
            transition(session, gap, GapState.DRAFTING, actor=user, action="drafting", now=now)
        target = None
        if outline and outline.update_article_ids:
            target = session.get(Article, outline.update_article_ids[0])
        previous = latest_draft(session, gap_id)
        if target is None and previous is not None:
            target = session.get(Article, previous.target_article_id) if previous.target_article_id else None
        outline_row = latest_outline(session, gap_id)
        kept = previous if outline is None and previous and target and previous.target_article_id == target.id else None
        base = (kept.base_version if kept else None) or (target.version if target else None)  # an update's base
        draft = Draft(gap_id=gap_id, outline_id=outline_row.id if outline_row else None,
                      title=one_line_title(article.title),
                      body=article.body.strip(), tags=list(article.tags),
                      target_article_id=target.id if target else None, base_version=base,
                      provider=services.llm.name if outline is not None else "human", created_by=user, created_at=now,
                      notes_folded=notes_folded if notes_folded is not None or previous is None
                      else previous.notes_folded)
        session.add(draft)
        session.flush()
        audit(session, gap, "drafted", actor=user, now=now, draft_id=draft.id)
        return draft


def edit_draft(services: Services, *, gap_id: int, title: str, body: str, user: str) -> Draft:
    """A person's edit: a new draft version (the outline's target article is kept)."""
    return save_draft(services, gap_id=gap_id, article=DraftArticle(title=title, body=body), outline=None, user=user)


def required_facts(session: Session, gap_id: int) -> list[str]:
    row = latest_outline(session, gap_id)
    return list(row.content.get("required_facts", [])) if row else []


def shadow_test(services: Services, *, gap_id: int, user: str | None) -> ReplayOutcome:
    """Replay against the live KB plus the draft (a shadow KB). Nothing is published."""
    spend(services, user, "test the draft")
    with services.session() as session:
        gap = get_gap(session, gap_id)
        draft = latest_draft(session, gap_id)
        if draft is None:
            raise InvalidInput(f"Gap #{gap_id} has no draft yet: write one first.")
        facts = required_facts(session, gap_id)
        conv_id, pos = gap.conversation_id, gap.flagged_position
        extra = ExtraDoc(title=draft.title, body=public_text(draft.body), tags=draft.tags,  # as it would go live
                         replaces=draft.target_article_id)
        draft_id, reference = draft.id, draft.body
    return replay(services, conversation_id=conv_id, kind=ReplayKind.SHADOW, flagged_position=pos,
                  required_facts=facts, reference=reference, extra=[extra], gap_id=gap_id, draft_id=draft_id,
                  actor=user)


def linked_refs(session: Session, gap: Gap) -> list[str]:
    """External ids of every conversation linked to the gap, in link order (one query)."""
    return list(session.scalars(
        select(Conversation.external_id).join(GapConversation, GapConversation.conversation_id == Conversation.id)
        .where(GapConversation.gap_id == gap.id).order_by(GapConversation.id)
    ))
