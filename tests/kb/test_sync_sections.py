"""Help-centre sections in the KB sync (issue #15): each synced Zendesk article keeps its section (id and name) in
every locale, the section names are listed once a pass (never once an article), a renamed section is renamed here
at the next pass, a section list that 429s is read again, a hostile name is stored cleaned and capped and reaches
Slack escaped; `flywheel kb list` shows the section; Intercom keeps the collection's id and name (its collections
listed once a pass, in every paging style its API versions use, a next link to another host never followed)."""
# mypy: disable-error-code="no-untyped-def"

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.blocks.common import OPTION_TEXT_MAX
from bot.kb import sync_intercom
from bot.kb.sync import SECTION_MAX, sync
from bot.kb.sync_zendesk import OVERLAP, ZendeskArticles
from bot.services import Services
from bot.services.threads import ItemInfo
from handlers.ids import ActionId, TargetRef
from storage.models import Article
from tests.handlers import conftest as scenario
from tests.support import cli
from tests.support.external_kbs import IC, RETRY_AFTER, SECRET, ZD, FakeKB, external_kb, reader
from tests.support.external_kbs import settings as connector_settings
from tests.support.factories import REFUND_FACT, REFUND_Q
from tests.support.harness import ANA, REVIEW, Harness, find_element, texts, wait
from tests.support.harness import SECRET as SLACK_SECRET
from tests.support.signing import interaction_request

harness, settings, slack, world = scenario.harness, scenario.settings, scenario.slack, scenario.world  # fixtures
NOW = dt.datetime(2026, 11, 21, 9, 0, tzinfo=dt.UTC)
HOSTILE = "<!channel> @here Billing\x00 " + "x" * 10_000


def run(services: Services, rd, *, full: bool = False):
    return sync(services.kb, services.session, rd, clock=lambda: NOW, full=full)


def zendesk(kb: FakeKB, *, locales: str = "en-us", sleep=lambda s: None, **extra):
    """The reader, its clock just past the fake's last write: an incremental pass lists only later changes."""
    def clock() -> float:
        return max(a["updated_epoch"] for a in kb.articles.values()) + OVERLAP + 1

    return ZendeskArticles.from_settings(connector_settings(**extra), locales=locales, sleep=sleep, clock=clock)


def placed(services: Services, source: str = "zendesk") -> dict[tuple[str | None, str | None], tuple]:
    """(external id, locale) → (section id, section name, version) of the synced articles."""
    with services.session() as s:
        rows = s.scalars(select(Article).where(Article.external_source == source))
        return {(a.external_id, a.locale): (a.external_section_id, a.external_section, a.version) for a in rows}


def test_sections_across_pages_and_locales_listed_once_a_pass(services: Services) -> None:
    with external_kb("zendesk", now=lambda: 0.0) as kb:
        kb.sections.update({"501": {"en-us": "Billing", "fr": "Facturation"}, "502": {"en-us": "Shipping"},
                            "503": {"en-us": "Accounts", "fr": "Comptes"}})
        refund = kb.seed("Refund times", "<p>5 days.</p>", section_id=501,
                         translations={"fr": {"title": "Délais de remboursement", "body": "<p>5 jours.</p>"}})
        zones = [kb.seed(f"Shipping zone {i}", f"<p>Zone {i}.</p>", section_id=502,
                         translations={"fr": {"title": f"Zone {i}", "body": f"<p>Zone {i}.</p>"}}) for i in range(3)]
        loose = kb.seed("About us", "<p>We sell things.</p>")  # in no section
        first = run(services, zendesk(kb, locales="en-us,fr", source_page_size=2))
        assert first.created == 9 and first.pages == 6  # en-us 5 articles (3 pages), fr 4 (2 pages), the end
        # en-us: 3 sections, 2 a page; fr: 2 sections; 9 articles stored, the sections listed once, not per article
        assert [u.split("/help_center/")[1].split("?")[0] for u in kb.section_reads] == [
            "en-us/sections.json", "en-us/sections.json", "fr/sections.json"]
        kb.edit(zones[0], body="<p>Zone 0, now 2 days.</p>")
        again = run(services, zendesk(kb, locales="en-us,fr", source_page_size=2))
        assert not again.full and again.updated == 1
        assert len(kb.section_reads) == 6  # the next pass: once more, whatever it reads
    rows = placed(services)
    assert rows[(refund, "en-us")][:2] == ("501", "Billing") and rows[(refund, "fr")][:2] == ("501", "Facturation")
    assert rows[(zones[2], "en-us")][:2] == ("502", "Shipping")
    assert rows[(zones[2], "fr")][:2] == ("502", "Shipping")  # no French name there: the section's name still shown
    assert rows[(loose, "en-us")][:2] == (None, None)


def test_a_renamed_section_is_renamed_at_the_next_pass_and_a_moved_article_moves(services: Services) -> None:
    with external_kb("zendesk", now=lambda: 0.0) as kb:
        kb.sections.update({"501": {"en-us": "Billing"}, "502": {"en-us": "Shipping"}})
        refund = kb.seed("Refund times", "<p>5 days.</p>", section_id=501)
        fees = kb.seed("Card fees", "<p>No fees.</p>", section_id=501)
        zone = kb.seed("Shipping zones", "<p>Two zones.</p>", section_id=502)
        run(services, zendesk(kb))
        kb.sections["501"]["en-us"] = "Payments"  # renamed there: no article's updated_at moves
        kb.edit(zone, section_id=501)  # moved there: the same text
        again = run(services, zendesk(kb))  # incremental: lists the moved article only
    assert not again.full and (again.created, again.updated, again.unchanged) == (0, 0, 1)
    rows = placed(services)
    assert rows[(refund, "en-us")] == ("501", "Payments", 1) and rows[(fees, "en-us")] == ("501", "Payments", 1)
    assert rows[(zone, "en-us")] == ("501", "Payments", 1)  # moved: no new version of its text


def test_a_section_list_that_429s_is_read_again_and_one_that_keeps_failing_costs_no_article(
        services: Services) -> None:
    sleeps: list[float] = []
    with external_kb("zendesk", now=lambda: 0.0) as kb:
        kb.sections["501"] = {"en-us": "Billing"}
        refund = kb.seed("Refund times", "<p>5 days.</p>", section_id=501)
        kb.throttle = 1
        run(services, zendesk(kb, sleep=sleeps.append))
        assert sleeps == [RETRY_AFTER] and len(kb.section_reads) == 2  # 429, then the same list again
        assert placed(services)[(refund, "en-us")][:2] == ("501", "Billing")
        kb.sections["501"]["en-us"] = "Payments"
        kb.edit(refund, body="<p>3 days.</p>")
        kb.throttle = 4  # the section list: the first try and its 3 retries all 429
        report = run(services, zendesk(kb, sleep=sleeps.append))
    assert sleeps == [RETRY_AFTER] * 4 and report.updated == 1  # the article is synced all the same
    with services.session() as s:
        row = s.scalars(select(Article).where(Article.external_id == refund)).one()
        assert row.body == "3 days." and (row.external_section_id, row.external_section) == ("501", "Billing")


def test_a_hostile_section_name_is_stored_cleaned_and_capped(services: Services) -> None:
    with external_kb("zendesk", now=lambda: 0.0) as kb:
        kb.sections["501"] = {"en-us": HOSTILE}
        refund = kb.seed("Refund times", "<p>5 days.</p>", section_id=501)
        odd = kb.seed("Odd one", "<p>Text.</p>", section_id="\x00" + "7" * 100)
        run(services, reader("zendesk"))
    rows = placed(services)
    section_id, name, _ = rows[(refund, "en-us")]
    assert section_id == "501" and len(name) == SECTION_MAX and "\x00" not in name  # PostgreSQL refuses NUL
    assert name.startswith("<!channel> @here Billing xxx")  # stored as the help centre has it, on one line
    assert rows[(odd, "en-us")][0] == "7" * 64  # an id over the column: cut, not an error


def test_a_hostile_section_reaches_slack_escaped_and_the_title_is_cut_first(harness: Harness,
                                                                            world: dict[str, ItemInfo]) -> None:
    svc = harness.services
    long_title = f"{REFUND_Q} " + "and more words " * 10
    with external_kb("zendesk", now=lambda: 0.0) as kb:
        kb.sections["501"] = {"en-us": HOSTILE}
        kb.seed(long_title, f"<p>{REFUND_Q} {REFUND_FACT}</p>", section_id=501)
        sync(svc.kb, svc.session, reader("zendesk"), clock=svc.clock, full=True)
    with svc.session() as s:
        synced_id = s.scalars(select(Article.id).where(Article.external_source == "zendesk")).one()
    item = world["c1"]
    gap_msg = harness.flag(item)
    wait(lambda: f"updates article #{synced_id}" in texts(harness.message(REVIEW, gap_msg["ts"])),
         what="the outline proposes the synced article")
    options = json.loads(_suggest(harness, gap_msg["ts"]).body)["options"]
    label = next(o["text"] for o in options if TargetRef.load(o["value"]).article_id == synced_id)
    assert label["type"] == "plain_text" and len(label["text"]) <= OPTION_TEXT_MAX
    title_part, section_part = label["text"].split(" · ")
    assert title_part.startswith(f"Update #{synced_id}: ") and title_part.endswith("…")  # the title is cut
    assert section_part.startswith("<!channel> @\u200dhere Billing")  # the section kept; @here defused
    _pick(harness, gap_msg["ts"], synced_id)
    notice = harness.thread_with(item, "chose what gap")
    assert "in &lt;!channel&gt; @\u200dhere Billing" in texts(notice)
    harness.drain()
    posted = [texts(c.params) for c in harness.slack.calls if c.method in ("chat.postMessage", "chat.update",
                                                                             "chat.postEphemeral")]
    assert not [text for text in posted if "<!channel>" in text or "@here" in text]
    assert not harness.slack.rejections


def _suggest(h: Harness, ts: str):
    blocks = h.message(REVIEW, ts)["blocks"]
    el = find_element(blocks, ActionId.PICK_TARGET)
    block_id = next(b["block_id"] for b in blocks if b.get("accessory") == el)
    return h.dispatch(interaction_request({**_payload(h, ts), "type": "block_suggestion", "block_id": block_id,
                                           "action_id": ActionId.PICK_TARGET.value, "value": ""},
                                          secret=SLACK_SECRET))


def _pick(h: Harness, ts: str, article_id: int) -> None:
    gap_id = TargetRef.load(find_element(h.message(REVIEW, ts)["blocks"], ActionId.PICK_TARGET)["initial_option"]
                            ["value"]).gap_id
    value = TargetRef(gap_id=gap_id, article_id=article_id).dump()
    action = {"action_id": ActionId.PICK_TARGET.value, "block_id": "b", "type": "external_select",
              "selected_option": {"text": {"type": "plain_text", "text": "x"}, "value": value}, "action_ts": "1.0"}
    assert h.dispatch(interaction_request({**_payload(h, ts), "type": "block_actions", "actions": [action]},
                                          secret=SLACK_SECRET)).status == 200


def _payload(h: Harness, ts: str) -> dict:
    return {"user": {"id": ANA, "username": ANA.lower(), "team_id": "T111"}, "api_app_id": "A111",
            "token": "verification_token", "team": {"id": "T111", "domain": "flywheel-test"},
            "container": {"type": "message", "message_ts": ts, "channel_id": REVIEW, "is_ephemeral": False},
            "channel": {"id": REVIEW, "name": "review"}, "message": h.message(REVIEW, ts)}


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db_url_engine) -> Path:
    for name, value in {"FLYWHEEL_ZENDESK_URL": ZD, "FLYWHEEL_ZENDESK_EMAIL": "ops@acme.test",
                        "FLYWHEEL_ZENDESK_TOKEN": SECRET}.items():
        monkeypatch.setenv(name, value)
    return cli.cli_env(tmp_path, monkeypatch, db_url_engine)


def test_kb_list_shows_the_section_of_synced_articles(env: Path) -> None:
    (env / "kb").mkdir()
    (env / "kb" / "local.md").write_text("# Local note\n\nWritten here.\n", encoding="utf-8")
    cli.run("kb", "import", str(env / "kb"))
    assert "section" not in cli.run("kb", "list")  # no synced article: no empty column
    with external_kb("zendesk", now=lambda: 0.0) as kb:
        kb.sections["501"] = {"en-us": "Billing [red]policy[/]"}
        kb.seed("Refund times", "<p>5 days.</p>", section_id=501)
        assert "zendesk (full pass): created 1" in cli.run("kb", "sync", "zendesk")
    lines = [line.replace("┃", "│").split("│") for line in cli.run("kb", "list").splitlines()]
    rows = {cells[3].strip(): cells[4].strip() for cells in lines if len(cells) == 8}
    assert rows["title"] == "section"  # the header: a column of its own
    assert rows["Refund times"] == "Billing [red]policy[/]"  # shown as written: rich markup escaped
    assert rows["Local note"] == "-"


def test_intercom_collections_named_in_each_locale_listed_once_a_pass_and_renamed(services: Services,
                                                                                  monkeypatch) -> None:
    monkeypatch.setattr(sync_intercom, "PER_PAGE", 2)  # 3 collections: 2 pages (pages.next.starting_after)
    sleeps: list[float] = []
    with external_kb("intercom", now=lambda: 0.0) as kb:
        kb.sections.update({"77": {"en": "Billing", "de": "Abrechnung"}, "78": {"en": "Shipping"},
                            "79": {"en": "Accounts"}})
        refund = kb.seed("Refund times", "<p>5 days.</p>", state="published", default_locale="en", parent_id=77,
                         translated_content={"type": "article_translated_content", "de": {
                             "title": "Rückerstattung", "body": "<p>5 Tage.</p>", "state": "published"}})
        zones = [kb.seed(f"Zone {i}", f"<p>Zone {i}.</p>", state="published", parent_id="78",
                         translated_content={"de": {"title": f"Zone {i}", "body": "<p>Z.</p>", "state": "published"}})
                 for i in range(3)]
        alone = kb.seed("Spring promo", "<p>Code SPRING.</p>", state="published", parent_id=None)
        kb.throttle = 1  # the first list of the pass (the collections) answers 429 once
        assert run(services, reader("intercom", sleep=sleeps.append)).created == 9
        assert sleeps == [RETRY_AFTER] and len(kb.section_reads) == 3  # 429, then 2 pages: not once an article
        assert "starting_after=2" in kb.section_reads[-1]
        kb.sections["77"]["en"] = "Payments"  # renamed there: no article's updated_at moves
        again = run(services, reader("intercom"))
        assert (again.created, again.updated) == (0, 0) and len(kb.section_reads) == 5  # listed again, once
    rows = placed(services, "intercom")  # before: ("77", None), the name never read
    assert rows[(refund, "en")] == ("77", "Payments", 1) and rows[(refund, "de")] == ("77", "Abrechnung", 1)
    assert rows[(zones[2], "en")][:2] == rows[(zones[2], "de")][:2] == ("78", "Shipping")  # no German name there
    assert rows[(alone, "en")][:2] == (None, None)


@pytest.mark.parametrize("paging", ["numbers", "link"])
def test_intercom_collections_paged_by_numbers_or_links(services: Services, monkeypatch, paging: str) -> None:
    monkeypatch.setattr(sync_intercom, "PER_PAGE", 1)
    with external_kb("intercom", now=lambda: 0.0) as kb:
        kb.collection_pages = IC if paging == "link" else paging
        kb.sections.update({str(n): {"en": f"Collection {n}"} for n in range(70, 73)})
        ids = [kb.seed(f"In {n}", "<p>Text.</p>", state="published", parent_id=n) for n in range(70, 73)]
        run(services, reader("intercom"))
        assert len(kb.section_reads) == 3
    rows = placed(services, "intercom")
    assert [rows[(ext, "en")][1] for ext in ids] == ["Collection 70", "Collection 71", "Collection 72"]


def test_intercom_collection_names_hostile_cleaned_capped_and_a_foreign_next_link_not_followed(
        services: Services, monkeypatch) -> None:
    monkeypatch.setattr(sync_intercom, "PER_PAGE", 1)
    with external_kb("intercom", now=lambda: 0.0) as kb:
        kb.sections.update({"77": {"en": HOSTILE}, "78": {"en": "Shipping"}})
        refund = kb.seed("Refund times", "<p>5 days.</p>", state="published", parent_id=77)
        zone = kb.seed("Zones", "<p>Two.</p>", state="published", parent_id=78)
        run(services, reader("intercom"))
        name = placed(services, "intercom")[(refund, "en")][1]
        assert len(name) == SECTION_MAX and "\x00" not in name and name.startswith("<!channel> @here Billing xxx")
        kb.collection_pages = "https://elsewhere.fake"  # a next link to another host: the token never goes there
        kb.sections["78"]["en"] = "Logistics"
        kb.edit(zone, body="<p>Three.</p>")
        report = run(services, reader("intercom"))
        assert len(kb.section_reads) == 3  # page 1 only, then stopped
    rows = placed(services, "intercom")
    assert report.updated == 1 and rows[(zone, "en")][:2] == ("78", "Shipping")  # synced; the stored name kept
