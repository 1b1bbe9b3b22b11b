"""Round 3: choosing the article a gap's draft updates. `flywheel gaps target` with a withdrawn article, an article
of another locale, a closed gap, a slug that is a path; the thread's target select (signed `block_actions` and
`block_suggestion`) with forged values and a huge typed query; and a synced help-centre title carrying Slack
control sequences, from the sync fake to the outline thread, the select and the draft."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.blocks.ids import GapRef, KindRef
from bot.cli import app
from bot.errors import IllegalTransition, InvalidInput, NotFound
from bot.kb.sync import sync
from bot.services import Services
from bot.services.authoring import latest_outline
from bot.services.gaps import dismiss
from bot.services.threads import ItemInfo
from handlers.ids import ActionId, TargetRef
from storage.models import Article, AuditEvent, Gap
from tests.handlers import conftest as scenario
from tests.support.cli import cli_env, runner
from tests.support.external_kbs import external_kb, reader
from tests.support.factories import REFUND_FACT, REFUND_Q
from tests.support.harness import ANA, BEN, REVIEW, SECRET, Harness, find_element, texts, wait
from tests.support.signing import interaction_request

harness, settings, slack, world = scenario.harness, scenario.settings, scenario.slack, scenario.world  # fixtures
HOSTILE = f"<!channel> {REFUND_Q} <@U0123BOSS> <http://evil.test|click> *bold*"
RAW = ("<!channel>", "<@U0123BOSS>", "<http://evil.test|click>")


def _gap(h: Harness) -> int:
    with h.services.session() as s:
        return int(wait(lambda: s.scalar(select(Gap.id)), what="a gap"))


def _payload(h: Harness, ts: str, user: str = ANA) -> dict[str, Any]:
    return {"user": {"id": user, "username": user.lower(), "team_id": "T111"}, "api_app_id": "A111",
            "token": "verification_token", "team": {"id": "T111", "domain": "flywheel-test"},
            "container": {"type": "message", "message_ts": ts, "channel_id": REVIEW, "is_ephemeral": False},
            "channel": {"id": REVIEW, "name": "review"}, "message": h.message(REVIEW, ts)}


def suggest(h: Harness, ts: str, typed: str = "", *, block_id: str | None = None) -> Any:
    blocks = h.message(REVIEW, ts)["blocks"]
    el = find_element(blocks, ActionId.PICK_TARGET)
    bid = block_id or next(b["block_id"] for b in blocks if b.get("accessory") == el)
    payload = {**_payload(h, ts), "type": "block_suggestion", "action_id": ActionId.PICK_TARGET.value,
               "block_id": bid, "value": typed}
    return h.dispatch(interaction_request(payload, secret=SECRET))


def pick(h: Harness, ts: str, value: str, *, user: str = ANA) -> None:
    action = {"action_id": ActionId.PICK_TARGET.value, "block_id": "b", "type": "external_select",
              "selected_option": {"text": {"type": "plain_text", "text": "x"}, "value": value}, "action_ts": "1.0"}
    payload = {**_payload(h, ts, user), "type": "block_actions", "trigger_id": "trig.1", "state": {"values": {}},
               "response_url": h.slack.webhook_url("action"), "actions": [action]}
    assert h.dispatch(interaction_request(payload, secret=SECRET)).status == 200


def _refusal(h: Harness, words: str) -> str:
    return texts(wait(lambda: [c.params for c in h.slack.calls_to("chat.postEphemeral") if words in texts(c.params)],
                      what=f"a refusal saying {words!r}"))


def _targets(services: Services) -> int:
    with services.session() as s:
        return len(list(s.scalars(select(AuditEvent).where(AuditEvent.action == "target-chosen"))))


# --- the CLI ------------------------------------------------------------------------------------------------
@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db_url_engine: tuple[str, Any]) -> Path:
    return cli_env(tmp_path, monkeypatch, db_url_engine)


def _cli(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("slug", ["../../etc/passwd", "/etc/passwd", "order-status/../../x", "%2e%2e%2fx", "a\x00b"])
def test_cli_a_slug_with_path_characters_names_no_article(cli: Path, harness: Harness, world: dict[str, ItemInfo],
                                                          slug: str) -> None:
    harness.flag(world["c1"])
    gap_id = _gap(harness)
    with pytest.raises((NotFound, InvalidInput)):  # before: a NUL was a DataError on PostgreSQL
        _cli("gaps", "target", str(gap_id), "--article", slug)
    assert _targets(harness.services) == 0  # the slug is only ever compared, never a path: nothing changed


def test_cli_a_withdrawn_article_and_a_closed_gap_are_refused(cli: Path, harness: Harness,
                                                            world: dict[str, ItemInfo]) -> None:
    harness.flag(world["c1"])
    gap_id = _gap(harness)
    with harness.services.session() as s:
        shipping = s.scalars(select(Article).where(Article.title == "Shipping times")).one()
        shipping.withdrawn_at, slug = harness.services.clock(), shipping.slug
    with pytest.raises(InvalidInput, match="not live any more"):
        _cli("gaps", "target", str(gap_id), "--article", slug)
    dismiss(harness.services, gap_id=gap_id, user=ANA, reason="duplicate")
    with pytest.raises(IllegalTransition, match="dismissed"):  # before: a dismissed gap's draft target changed
        _cli("gaps", "target", str(gap_id), "--new")
    assert _targets(harness.services) == 0


def test_cli_an_article_of_another_locale_is_that_article(cli: Path, harness: Harness,
                                                          world: dict[str, ItemInfo]) -> None:
    harness.flag(world["c1"])
    gap_id = _gap(harness)
    svc = harness.services
    with svc.session() as s:
        en, _ = svc.kb.save(s, title="Refund times", body=REFUND_FACT, slug="refund-times")
        de, _ = svc.kb.save(s, title="Erstattungsdauer", body="Erstattungen dauern 5 Tage.", slug="erstattungsdauer")
        en.locale, de.locale, en.external_id, de.external_id = "en-us", "de", "7", "7"
        de_id, en_id = de.id, en.id
    assert f"updates article #{de_id}" in " ".join(_cli("gaps", "target", str(gap_id), "--article",
                                                        "erstattungsdauer").split())
    with svc.session() as s:
        outline = latest_outline(s, gap_id)
        assert outline is not None and outline.content["update_article_ids"] == [de_id]  # not its en-us sibling
        assert s.get_one(Article, en_id).locale == "en-us"


# --- the thread's select --------------------------------------------------------------------------------------
def test_a_forged_select_value_changes_nothing(harness: Harness, world: dict[str, ItemInfo]) -> None:
    first = harness.flag(world["c1"])
    other_msg = harness.flag(world["c2"], user=BEN)
    with harness.services.session() as s:
        gap_ids = list(s.scalars(select(Gap.id).order_by(Gap.id)))
    assert len(gap_ids) == 2
    first_gap, other_gap = gap_ids
    before = harness.message(REVIEW, first["ts"])
    # a value naming the other thread's gap, picked on this thread's select
    pick(harness, first["ts"], TargetRef(gap_id=other_gap).dump())
    assert "not gap #" in _refusal(harness, "own thread")
    # an article that does not exist
    pick(harness, first["ts"], TargetRef(gap_id=first_gap, article_id=999_999).dump())
    _refusal(harness, "No article 999999")
    # garbage
    pick(harness, first["ts"], "{\"gap_id\": \"<!channel>\"}")
    harness.drain()
    assert _targets(harness.services) == 0
    assert harness.message(REVIEW, first["ts"])["blocks"] == before["blocks"]  # before: replaced by gap #2's message
    assert other_msg["ts"] != first["ts"]


def test_a_huge_typed_query_and_a_missing_select_answer_bounded(harness: Harness, world: dict[str, ItemInfo]) -> None:
    msg = harness.flag(world["c1"])
    answer = suggest(harness, msg["ts"], "refund " * 200_000)  # 1.4 MB typed: searched as its first 200 characters
    assert answer.status == 200
    options = json.loads(answer.body)["options"]
    assert 1 <= len(options) <= 21 and options[-1]["text"]["text"] == ":new: New article"
    missing = suggest(harness, msg["ts"], "refund", block_id="no-such-block")  # no select there: no gap to read
    assert (missing.status, json.loads(missing.body)) == (200, {"options": []})  # before: 500


# --- a hostile synced title, end to end -------------------------------------------------------------------------
def test_a_synced_title_with_control_sequences_reaches_slack_escaped(harness: Harness,
                                                                     world: dict[str, ItemInfo]) -> None:
    svc = harness.services
    with external_kb("zendesk", now=lambda: 0.0) as kb:
        kb.seed(HOSTILE, f"<p>{REFUND_Q} {REFUND_FACT}</p>")
        sync(svc.kb, svc.session, reader("zendesk"), clock=svc.clock, full=True)
    with svc.session() as s:
        synced = s.scalars(select(Article).where(Article.external_source == "zendesk")).one()
        assert synced.title == HOSTILE  # stored as the help centre has it
        synced_id = synced.id
    item = world["c1"]
    gap_msg = harness.flag(item)
    gap_id = _gap(harness)
    wait(lambda: f"updates article #{synced_id}" in texts(harness.message(REVIEW, gap_msg["ts"])),
         what="the outline proposes the synced article")
    options = json.loads(suggest(harness, gap_msg["ts"]).body)["options"]
    label = next(o["text"] for o in options if TargetRef.load(o["value"]).article_id == synced_id)
    assert label["type"] == "plain_text"  # Slack shows plain text literally: no ping, no link, no bold
    pick(harness, gap_msg["ts"], TargetRef(gap_id=gap_id, article_id=synced_id).dump(), user=BEN)
    notice = harness.thread_with(item, "chose what gap")
    assert "&lt;!channel&gt;" in texts(notice) and "&lt;http://evil.test|click&gt;" in texts(notice)
    harness.click(REVIEW, notice["ts"], ActionId.WRITE_DRAFT)
    draft = harness.thread_with(item, "Draft for gap #")
    assert "&lt;@U0123BOSS&gt;" in texts(draft)  # the draft updates the synced article: its title, escaped
    harness.drain()
    posted = [texts(c.params) for c in harness.slack.calls if c.method in ("chat.postMessage", "chat.update",
                                                                             "chat.postEphemeral")]
    assert not [raw for raw in RAW for text in posted if raw in text]
    assert not harness.slack.rejections


def _act(h: Harness, ts: str, action_id: ActionId, value: str, *, user: str = ANA) -> None:
    """A block action on message `ts` carrying a (forged) value: a select option's, or a button's."""
    action: dict[str, Any] = {"action_id": action_id.value, "block_id": "b", "action_ts": "1.0"}
    if action_id == ActionId.PICK_KIND:
        action |= {"type": "static_select",
                   "selected_option": {"text": {"type": "plain_text", "text": "x"}, "value": value}}
    else:
        action |= {"type": "button", "value": value}
    payload = {**_payload(h, ts, user), "type": "block_actions", "trigger_id": "trig.1", "state": {"values": {}},
               "response_url": h.slack.webhook_url("action"), "actions": [action]}
    assert h.dispatch(interaction_request(payload, secret=SECRET)).status == 200


def test_forged_kind_and_take_values_naming_another_gap_change_nothing(harness: Harness,
                                                                        world: dict[str, ItemInfo]) -> None:
    """The kind select and *I'll take it* on one gap's message, with values naming another thread's gap."""
    first = harness.flag(world["c1"])
    harness.flag(world["c2"], user=BEN)
    with harness.services.session() as s:
        first_gap, other_gap = list(s.scalars(select(Gap.id).order_by(Gap.id)))
    before = harness.message(REVIEW, first["ts"])
    with harness.services.session() as s:
        other_kind = s.get_one(Gap, other_gap).kind
    forged_kind = "contradictory" if other_kind != "contradictory" else "unclear"
    _act(harness, first["ts"], ActionId.PICK_KIND, KindRef(gap_id=other_gap, kind=forged_kind).dump())
    _act(harness, first["ts"], ActionId.TAKE_GAP, GapRef(gap_id=other_gap).dump(), user="UCAROL003")
    wait(lambda: len([c for c in harness.slack.calls_to("chat.postEphemeral")
                      if "not gap #" in texts(c.params) and "own thread" in texts(c.params)]) == 2 or None,
         what="both forged values refused")
    with harness.services.session() as s:
        other = s.get_one(Gap, other_gap)
        assert other.kind == other_kind and other.owner != "UCAROL003"
    assert harness.message(REVIEW, first["ts"])["blocks"] == before["blocks"]  # not replaced by the other gap's
    _act(harness, first["ts"], ActionId.PICK_KIND, KindRef(gap_id=first_gap, kind=forged_kind).dump())

    def own_kind() -> str:
        with harness.services.session() as s:
            return s.get_one(Gap, first_gap).kind

    wait(lambda: own_kind() == forged_kind or None, what="its own gap's value still works")
