"""When things fail: a failed publish verdict offers edit-and-retry; a model error becomes a retry button."""

from __future__ import annotations

from sqlalchemy import select

from bot.domain import GapState
from bot.errors import LLMError
from handlers.ids import ActionId, InputId
from storage.models import Gap
from tests.support.factories import REFUND_FACT
from tests.support.harness import REVIEW, Harness, texts, wait


def _gap(harness: Harness) -> Gap:
    with harness.services.session() as s:
        return s.scalars(select(Gap)).one()


def test_failed_verdict_offers_edit_and_retry(harness: Harness, world) -> None:  # type: ignore[no-untyped-def]
    item = world["c1"]
    draft_msg = harness.write_draft(item, harness.flag(item))
    # Someone rewrote the draft without the fact the customer needed (the message shows the edit: its Publish
    # button names the edited draft, so that is what is published).
    harness.click(REVIEW, draft_msg["ts"], ActionId.EDIT_DRAFT)
    edit = harness.slack.wait_for("views.open")[-1].response["view"]
    body = "Returns are accepted within 30 days."
    assert harness.submit(edit, {InputId.DRAFT_TITLE: "Returns", InputId.DRAFT_BODY: body}).status == 200
    wait(lambda: body in texts(harness.message(REVIEW, draft_msg["ts"])), what="the edited draft in place")
    harness.click(REVIEW, draft_msg["ts"], ActionId.PUBLISH)
    verdict = harness.thread_with(item, "Fail: the agent still falls short")
    assert "Edit and retry" in texts(verdict)
    assert _gap(harness).state == GapState.FAILED

    harness.click(REVIEW, verdict["ts"], ActionId.EDIT_AND_RETRY)
    view = harness.slack.wait_for("views.open", count=2)[-1].response["view"]
    assert view["submit"]["text"] == "Save and test"
    body = f"## Refunds to a card\n\n{REFUND_FACT}"
    assert harness.submit(view, {InputId.DRAFT_TITLE: "Card refunds", InputId.DRAFT_BODY: body}).status == 200

    new_draft = harness.thread_with(item, "Card refunds")  # posted as a new message under the verdict
    assert new_draft["ts"] != draft_msg["ts"] and "revision 3" in texts(new_draft)
    shadow = harness.thread_with(item, "shadow test of the draft")
    assert "Pass" in texts(shadow) and "Publish" in texts(shadow)  # passing now: publish from the verdict
    assert _gap(harness).state == GapState.DRAFTING


def test_a_model_error_shows_in_place_with_a_retry_button(harness: Harness, world, fake_llm) -> None:  # type: ignore[no-untyped-def]
    item = world["c1"]
    gap_msg = harness.flag(item)
    fake_llm.enqueue("draft", LLMError("The model timed out; nothing was changed."))  # then the offline model
    harness.click(REVIEW, gap_msg["ts"], ActionId.WRITE_DRAFT)
    error = harness.thread_with(item, "The model timed out")
    assert "Writing the draft" not in texts(error)  # the placeholder itself became the error
    assert not harness.slack.calls_to("chat.postEphemeral")

    harness.click(REVIEW, error["ts"], ActionId.RETRY)
    wait(lambda: "Retried by" in texts(harness.message(REVIEW, error["ts"])), what="the retry notice")
    draft = harness.thread_with(item, "Draft for gap #")
    assert REFUND_FACT in texts(draft) and len(fake_llm.calls_to("draft")) == 2
