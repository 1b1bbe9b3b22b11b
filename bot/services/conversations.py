"""Looking conversations up by the ids people use."""

from __future__ import annotations

from sqlalchemy import select

from bot.errors import NotFound
from bot.services import Services
from storage.models import Conversation


def resolve(services: Services, ref: str | int) -> int:
    """Accept an internal id (`42`), an external id (`conv-123`) or `source:external_id`."""
    text = str(ref).strip()
    with services.session() as session:
        if text.isdigit() and session.get(Conversation, int(text)) is not None:
            return int(text)
        stmt = select(Conversation.id).where(Conversation.external_id == text)
        if ":" in text and not session.scalar(stmt):
            source, _, ext = text.partition(":")
            stmt = select(Conversation.id).where(Conversation.source == source, Conversation.external_id == ext)
        ids = list(session.scalars(stmt.limit(2)))
    if not ids:
        raise NotFound(f"No conversation {text!r}. Use an id from `flywheel sample` or `source:external_id`.")
    if len(ids) > 1:
        raise NotFound(f"{text!r} exists in several sources: use `source:{text}`.")
    return ids[0]


def transcript(services: Services, conversation_id: int) -> tuple[str, list[tuple[int, str, str]]]:
    """(external id, [(position, role, text)])."""
    with services.session() as session:
        conv = session.get(Conversation, conversation_id)
        if conv is None:
            raise NotFound(f"No conversation {conversation_id}.")
        return conv.external_id, [(m.position, m.role, m.text) for m in conv.messages]
