"""Modals: the whole conversation, the draft and outline editors, and what they read back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.blocks.models.thread import OutlineSectionView


@dataclass(frozen=True)
class TurnView:
    position: int
    role: str
    text: str


@dataclass(frozen=True)
class ConversationView:
    conversation_id: int
    conversation_ref: str
    turns: Sequence[TurnView]
    flagged_position: int | None = None
    source: str | None = None


@dataclass(frozen=True)
class EditDraftView:
    gap_id: int
    draft_id: int
    title: str
    body: str
    channel: str | None = None  # where the draft message is, to update it after submit
    thread_ts: str | None = None
    message_ts: str | None = None
    then_test: bool = False  # "edit and retry": run the shadow test after saving


@dataclass(frozen=True)
class EditOutlineView:
    gap_id: int
    title: str
    sections: Sequence[OutlineSectionView] = ()
    required_facts: Sequence[str] = ()
    channel: str | None = None
    thread_ts: str | None = None
    message_ts: str | None = None


@dataclass(frozen=True)
class EditedDraft:
    """What `parse_edit_draft` reads back from a submitted edit-draft modal."""

    title: str
    body: str | None  # None: the body was too long to edit in Slack and is unchanged


@dataclass(frozen=True)
class EditedOutline:
    title: str
    sections: tuple[OutlineSectionView, ...]
    required_facts: tuple[str, ...]
