"""The whole loop through the real app: a 📚 reaction on a digest item → outline in the item's thread → a
thread reply becomes a note → write draft → shadow test → publish → PASS verdict with before/after."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.domain import GapState, ReviewStatus
from bot.services.insight import gap_detail
from handlers.ids import ActionId
from storage.models import Article, DigestItem, Gap
from tests.support.harness import ANA, BEN, REVIEW, Harness, texts, wait


def _gap(harness: Harness) -> Gap:
    with harness.services.session() as s:
        return wait(lambda: s.scalar(select(Gap)), what="a gap")


def test_full_loop_from_reaction_to_verified_verdict(harness: Harness, world) -> None:  # type: ignore[no-untyped-def]
    item = world["c1"]
    gap_msg = harness.flag(item)

    # The placeholder came first, then the same message was updated with the outline.
    placeholder = next(c for c in harness.slack.calls_to("chat.postMessage") if c.params.get("thread_ts") == item.ts)
    assert "Drafting an outline" in texts(placeholder.blocks)
    assert placeholder.response["ts"] == gap_msg["ts"]
    assert f"<@{ANA}> flagged a knowledge gap" in texts(gap_msg)
    turn_select = next(b["accessory"] for b in gap_msg["blocks"]
                       if b.get("accessory", {}).get("type") == "static_select")
    assert "don't have information" in turn_select["initial_option"]["text"]["text"]
    gap = _gap(harness)
    assert (gap.thread_channel, gap.thread_ts, gap.digest_item_id) == (REVIEW, item.ts, item.item_id)
    wait(lambda: "Flagged as a knowledge gap" in texts(harness.message(REVIEW, item.ts)), what="status line")

    # A teammate's reply in the thread becomes a note (ids only are logged; the text is stored).
    harness.reply(item, "note: Store credit refunds are instant.", user=BEN)
    wait(lambda: gap_detail(harness.services, gap.id).notes, what="a note")
    assert gap_detail(harness.services, gap.id).notes == [(BEN, "Store credit refunds are instant.")]

    # Write draft → "Writing the draft…" → the draft, with the note in it.
    harness.click(REVIEW, gap_msg["ts"], ActionId.WRITE_DRAFT)
    draft_msg = harness.thread_with(item, f"Draft for gap #{gap.id}")
    assert "Store credit refunds are instant." in texts(draft_msg)
    assert any("Writing the draft" in texts(c.blocks) for c in harness.slack.calls_to("chat.postMessage"))

    # Test: a shadow replay; the verdict goes to the thread and nothing is published.
    harness.click(REVIEW, draft_msg["ts"], ActionId.TEST_DRAFT)
    shadow = harness.thread_with(item, "shadow test of the draft")
    assert "Pass" in texts(shadow)
    with harness.services.session() as s:
        assert s.scalar(select(func.count()).select_from(Article)) == 2
        assert s.get(Gap, gap.id).state == GapState.DRAFTING

    # Publish: the verdict shows before/after of the flagged turn; the gap is verified.
    harness.click(REVIEW, draft_msg["ts"], ActionId.PUBLISH)
    verdict = harness.thread_with(item, "replayed after publishing")
    body = texts(verdict)
    assert "Pass" in body and "Before" in body and "After" in body
    assert "don't have information" in body and "5 business days" in body
    with harness.services.session() as s:
        assert s.get(Gap, gap.id).state == GapState.VERIFIED
        assert s.scalar(select(func.count()).select_from(Article)) == 3
    wait(lambda: "Fixed" in texts(harness.message(REVIEW, item.ts)), what="the item marked fixed")
    wait(lambda: "This draft is published" in texts(harness.message(REVIEW, draft_msg["ts"])), what="draft closed")
    assert not harness.slack.rejections


def test_second_flag_is_a_co_flag_not_a_second_gap(harness: Harness, world) -> None:  # type: ignore[no-untyped-def]
    item = world["c1"]
    harness.flag(item)
    harness.react("books", item, user=BEN)
    harness.thread_with(item, f"<@{BEN}> flagged this too")
    with harness.services.session() as s:
        assert s.scalar(select(func.count()).select_from(Gap)) == 1
    assert gap_detail(harness.services, _gap(harness).id).flaggers == [ANA, BEN]


def test_flag_matching_an_open_gap_offers_to_join(harness: Harness, world) -> None:  # type: ignore[no-untyped-def]
    harness.write_draft(world["c1"], harness.flag(world["c1"]))
    gap = _gap(harness)

    other = world["c3"]  # the same question, worded differently
    harness.react("books", other, user=BEN)
    offer = harness.thread_with(other, "this looks like")
    assert f"gap #{gap.id}" in texts(offer) and f"draft in progress by <@{ANA}>" in texts(offer)

    harness.click(REVIEW, offer["ts"], ActionId.JOIN_GAP, user=BEN)
    wait(lambda: "added this conversation" in texts(harness.message(REVIEW, offer["ts"])), what="join notice")
    harness.thread_with(world["c1"], "added a conversation")
    detail = gap_detail(harness.services, gap.id)
    assert other.conversation_id in detail.conversation_ids and BEN in detail.flaggers
    with harness.services.session() as s:
        assert s.scalar(select(func.count()).select_from(Gap)) == 1


def test_open_new_gap_from_a_match_offer(harness: Harness, world) -> None:  # type: ignore[no-untyped-def]
    harness.flag(world["c1"])
    other = world["c3"]
    harness.react("books", other, user=BEN)
    offer = harness.thread_with(other, "this looks like")
    harness.click(REVIEW, offer["ts"], ActionId.NEW_GAP, user=BEN)
    harness.thread_with(other, "Suggested article")  # the new gap's outline, in c3's thread
    wait(lambda: "Opened a separate gap" in texts(harness.message(REVIEW, offer["ts"])), what="new-gap notice")
    with harness.services.session() as s:
        gaps = s.scalars(select(Gap).order_by(Gap.id)).all()
        assert len(gaps) == 2 and (gaps[1].thread_ts, gaps[1].flagged_by) == (other.ts, BEN)


def test_removing_the_reaction_before_drafting_unflags(harness: Harness, world) -> None:  # type: ignore[no-untyped-def]
    item = world["c1"]
    harness.flag(item)
    harness.react("books", item, user=ANA, removed=True)
    harness.thread_with(item, "removed the flag")
    with harness.services.session() as s:
        assert s.scalar(select(Gap.state)) == GapState.DISMISSED
        assert s.get(DigestItem, item.item_id).review_status == ReviewStatus.PENDING


def test_ok_emoji_and_looks_good_button(harness: Harness, world) -> None:  # type: ignore[no-untyped-def]
    harness.react("white_check_mark", world["c2"], user=BEN)
    wait(lambda: f"Looks good to <@{BEN}>" in texts(harness.message(REVIEW, world["c2"].ts)), what="c2 ok")
    harness.click(REVIEW, world["c3"].ts, ActionId.LOOKS_GOOD, user=ANA)
    wait(lambda: f"Looks good to <@{ANA}>" in texts(harness.message(REVIEW, world["c3"].ts)), what="c3 ok")
    with harness.services.session() as s:
        statuses = {i.id: i.review_status for i in s.scalars(select(DigestItem))}
    assert statuses[world["c2"].item_id] == statuses[world["c3"].item_id] == ReviewStatus.LOOKS_GOOD
    assert statuses[world["c1"].item_id] == ReviewStatus.PENDING
