"""Recurrences on the known world: refunds were fixed on 11-16, passwords on 11-24, shipping on 11-23."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.services.recurrence import recurrence_counts, scan_recurrences
from storage.models import AuditEvent, Gap, GapConversation
from tests.support.world import NOW, t


def links(world) -> list[tuple[int, int]]:  # type: ignore[no-untyped-def]
    with world.services.session() as s:
        return [tuple(r) for r in s.execute(select(GapConversation.gap_id, GapConversation.conversation_id)
                .where(GapConversation.added_by == "recurrence").order_by(GapConversation.id))]


def test_later_conversations_that_went_wrong_are_linked_to_the_fixed_gap(world) -> None:
    with world.services.session() as s:  # the gap's Slack thread, where the edge will post
        s.get(Gap, world.gap["r1"]).thread_channel, s.get(Gap, world.gap["r1"]).thread_ts = "C1", "1700000000.000100"
    found = scan_recurrences(world.services, since=t("2026-11-01 00:00"))
    g, c = world.gap, world.conv
    # rr3 went fine; sb1 came before the shipping fix; ra1 and pa1-pa3 came before their fixes
    assert [(r.gap_id, r.conversation_ref) for r in found] == [
        (g["r1"], "rr1"), (g["r1"], "rr2"), (g["r1"], "rr4"), (g["p1"], "pc1")]
    by_ref = {r.conversation_ref: r for r in found}
    assert by_ref["rr1"].reasons == ("escalated", "unresolved", "low CSAT")
    assert by_ref["rr2"].reasons == ("agent said it did not know",)  # resolved, no CSAT: only the agent's words
    assert by_ref["rr4"].reasons == ("escalated",)
    assert (by_ref["rr1"].thread_channel, by_ref["rr1"].thread_ts) == ("C1", "1700000000.000100")
    assert by_ref["pc1"].thread_channel is None and by_ref["pc1"].topic_id == g["p1"]
    assert by_ref["rr1"].verified_at == t("2026-11-16 12:00") and "refund" in by_ref["rr1"].topic_label
    assert links(world) == [(g["r1"], c["rr1"]), (g["r1"], c["rr2"]), (g["r1"], c["rr4"]), (g["p1"], c["pc1"])]
    with world.services.session() as s:
        events = [tuple(r) for r in s.execute(select(AuditEvent.entity_id, AuditEvent.actor, AuditEvent.detail,
                  AuditEvent.at).where(AuditEvent.action == "recurred").order_by(AuditEvent.id))]
    assert [(gid, detail["conversation_id"]) for gid, _, detail, _ in events] == links(world)
    assert {actor for _, actor, _, _ in events} == {"recurrence"}


def test_a_second_scan_adds_nothing(world) -> None:
    first = scan_recurrences(world.services, since=t("2026-11-01 00:00"))
    assert len(first) == 4
    assert scan_recurrences(world.services, since=t("2026-11-01 00:00")) == []
    assert len(links(world)) == 4
    with world.services.session() as s:
        assert s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "recurred")) == 4


def test_since_limits_the_scan(world) -> None:
    found = scan_recurrences(world.services, since=t("2026-11-20 00:00"))  # batch B (11-18) is older
    assert [r.conversation_ref for r in found] == ["pc1"]
    assert [r.conversation_ref for r in scan_recurrences(world.services, since=t("2026-11-01 00:00"))] == [
        "rr1", "rr2", "rr4"]  # the rest, later


def test_a_recurrence_does_not_stop_the_gap_being_verified_or_flagged_anew(world) -> None:
    scan_recurrences(world.services, since=t("2026-11-01 00:00"))
    from bot.services.gaps import flag

    with world.services.session() as s:
        assert s.get(Gap, world.gap["r1"]).state == "verified"
    # rr1 is linked to a verified gap, which is not an active one: flagging it opens a new gap, as before
    result = flag(world.services, conversation_id=world.conv["rr1"], user="dan")
    assert result.created and not result.joined and result.gap_id not in world.gap.values()


def test_recurrence_counts_by_when_they_were_found(world) -> None:
    assert recurrence_counts(world.services, start=t("2026-11-23 00:00"), end=t("2026-11-30 00:00")) == 0
    world.at(NOW)
    scan_recurrences(world.services, since=t("2026-11-01 00:00"))
    assert recurrence_counts(world.services, start=t("2026-11-23 00:00"), end=t("2026-11-30 00:00")) == 4
    assert recurrence_counts(world.services, start=t("2026-11-16 00:00"), end=t("2026-11-23 00:00")) == 0
    assert recurrence_counts(world.services, start=NOW, end=t("2026-11-30 00:00")) == 4  # start is inclusive


def test_nothing_to_watch_before_any_gap_is_verified(services, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from bot.services.gaps import flag
    from tests.support.factories import conversation, load

    load(services, tmp_path, [conversation("c1", gap=True), conversation("c2", gap=True)])
    flag(services, conversation_id=1, user="ann")
    assert scan_recurrences(services, since=t("2000-01-01 00:00")) == []
    with services.session() as s:
        assert s.scalar(select(func.count()).select_from(GapConversation)) == 1
