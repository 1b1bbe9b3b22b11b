"""Every Block Kit id in one place, and the small pydantic models carried in button `value`s,
select option values and modal `private_metadata`.

Import them from `handlers.ids` (the public home, re-exporting this module). They are defined here,
beside the builders that set them, so the pure builders never import the `handlers` package (whose
`__init__` imports the listeners, which import the builders: a cycle).

Builders set these ids; handlers register on them (`app.action(ActionId.FLAG)(handle_flag)`) and read
state back with `XRef.load(raw)`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.errors import InvalidInput

VALUE_MAX = 2000  # button value; private_metadata allows 3000, we keep one budget for both
OPTION_VALUE_MAX = 150  # static_select option value


class ActionId(StrEnum):
    """`action_id`s of buttons and selects (unique within their block by construction)."""

    # digest item
    FLAG = "flag"
    LOOKS_GOOD = "looks_good"
    SHOW_CONVERSATION = "show_conversation"
    # flag acknowledgement / outline (in the item's thread)
    PICK_TURN = "pick_turn"  # static_select; option values are TurnRef
    WRITE_DRAFT = "write_draft"
    EDIT_OUTLINE = "edit_outline"
    DISMISS = "dismiss"  # dismiss the gap
    JOIN_GAP = "join_gap"  # "matches gap #12": add this conversation to it
    NEW_GAP = "new_gap"  # "matches gap #12": open a separate gap anyway
    TAKE_GAP = "take_gap"  # "I'll take it": the clicker becomes the gap's owner
    PICK_KIND = "pick_kind"  # static_select; option values are KindRef
    PICK_TARGET = "pick_target"  # external_select: which article the draft updates, or a new one (TargetRef)
    # draft
    EDIT_DRAFT = "edit_draft"
    TEST_DRAFT = "test_draft"  # shadow replay
    PUBLISH = "publish"
    DISMISS_DRAFT = "dismiss_draft"
    # verdict / errors
    EDIT_AND_RETRY = "edit_and_retry"
    VERDICT_WRONG = "verdict_wrong"  # a person overrules the judge (opens the override modal)
    ROLLBACK = "rollback_article"  # put the article's previous version back (here and in the team's KB)
    RETRY = "retry"
    # links (url buttons still send block_actions and must be acked)
    OPEN_LINK = "open_link"


class ViewId(StrEnum):
    """Modal `callback_id`s (and the Home tab's, for completeness)."""

    CONVERSATION = "conversation_modal"  # read-only, no submit
    EDIT_DRAFT = "edit_draft_modal"
    EDIT_OUTLINE = "edit_outline_modal"
    VERDICT_OVERRIDE = "verdict_override_modal"
    HOME = "home"


class InputId(StrEnum):
    """Input blocks in modals: used as both `block_id` and `action_id`."""

    DRAFT_TITLE = "draft_title"
    DRAFT_BODY = "draft_body"  # long bodies span parts: draft_body, draft_body_1, draft_body_2…
    OUTLINE_TITLE = "outline_title"
    OUTLINE_SECTIONS = "outline_sections"
    OUTLINE_FACTS = "outline_facts"
    OVERRIDE_VERDICT = "override_verdict"  # radio: pass | fail
    OVERRIDE_REASON = "override_reason"


class InvalidRef(InvalidInput):
    """A button value / private_metadata that does not parse: stale or tampered UI."""


class Ref(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    max_chars: ClassVar[int] = VALUE_MAX

    def dump(self) -> str:
        """Compact JSON (no nulls), guaranteed to fit a button value."""
        raw = self.model_dump_json(exclude_none=True)
        if len(raw) > self.max_chars:
            raise ValueError(f"{type(self).__name__} is {len(raw)} chars; the limit is {self.max_chars}")
        return raw

    @classmethod
    def load(cls, raw: str | None) -> Self:
        if not raw:
            raise InvalidRef(
                f"This button has no data ({cls.__name__} expected). Try again from the latest message."
            )
        try:
            return cls.model_validate_json(raw)
        except ValidationError as exc:
            raise InvalidRef(
                f"This button's data is out of date or invalid ({cls.__name__} expected). "
                "Try again from the latest message."
            ) from exc


def _id() -> Any:
    return Field(ge=1)


def _opt_id() -> Any:
    return Field(None, ge=1)


def _slack_id() -> Any:
    return Field(None, min_length=1, max_length=32, pattern=r"^[A-Z0-9]+$")


def _ts() -> Any:
    return Field(None, min_length=1, max_length=32, pattern=r"^\d+\.\d+$")


class ItemRef(Ref):
    item_id: int = _id()


class GapRef(Ref):
    gap_id: int = _id()


class RunRef(Ref):
    """'Verdict is wrong' on a verdict message: the judged replay run (and its gap, when it has one)."""

    run_id: int = _id()
    gap_id: int | None = _opt_id()


class RollbackRef(Ref):
    """'Roll back' on a verdict: the article, the version the verdict was about, the version to restore."""

    article_id: int = _id()
    from_version: int = _id()
    to_version: int = _id()
    gap_id: int | None = _opt_id()


class DraftRef(Ref):
    gap_id: int = _id()
    draft_id: int = _id()


class JoinRef(Ref):
    """'Join gap #12' on a flag that matched an existing gap."""

    gap_id: int = _id()
    conversation_id: int = _id()
    item_id: int | None = _opt_id()


class NewGapRef(Ref):
    """'Open a new gap' on a flag that matched an existing gap."""

    conversation_id: int = _id()
    item_id: int | None = _opt_id()


class TurnRef(Ref):
    """A static_select option value: the agent turn that fell short."""

    max_chars: ClassVar[int] = OPTION_VALUE_MAX
    gap_id: int = _id()
    position: int = Field(ge=0)


class KindRef(Ref):
    """A static_select option value: the gap's kind (missing, unclear, contradictory, stale)."""

    max_chars: ClassVar[int] = OPTION_VALUE_MAX
    gap_id: int = _id()
    kind: str = Field(min_length=1, max_length=20, pattern=r"^[a-z]+$")


class TargetRef(Ref):
    """An external_select option value: the article a gap's draft updates (None: a new article)."""

    max_chars: ClassVar[int] = OPTION_VALUE_MAX
    gap_id: int = _id()
    article_id: int | None = _opt_id()


class RetryRef(Ref):
    """What the retry button of an error message should run again."""

    action: ActionId
    gap_id: int | None = _opt_id()
    item_id: int | None = _opt_id()
    draft_id: int | None = _opt_id()
    conversation_id: int | None = _opt_id()


class ThreadMeta(Ref):
    """Modal private_metadata: views carry no channel/thread, so we bring them along."""

    gap_id: int | None = _opt_id()
    draft_id: int | None = _opt_id()
    channel: str | None = _slack_id()
    thread_ts: str | None = _ts()
    message_ts: str | None = _ts()  # the message to update after submit
    then_test: bool = False  # edit-and-retry: run the shadow test after saving
    run_id: int | None = _opt_id()  # the verdict override modal: the judged run


R = TypeVar("R", bound=Ref)


def parse_value(body: dict[str, Any], model: type[R]) -> R:
    """The first action's value (button) or selected option value (select), parsed as `model`."""
    action = (body.get("actions") or [{}])[0]
    raw = action.get("value") or (action.get("selected_option") or {}).get("value")
    return model.load(raw)
