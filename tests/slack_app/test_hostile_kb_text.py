"""Round 5: hostile help-centre text reaching Slack. The help centre's titles, section names, labels, links and
bodies are seeded in the fake Zendesk and stored by the real sync; the loop runs through signed Slack requests and
the scheduler's jobs; what the mock Slack received is checked: no live mention or injected link in any mrkdwn, no
control character, every block within Slack's limits, every URL one Slack (and the reader's browser) should get.
"""
# mypy: disable-error-code="no-untyped-def"

from __future__ import annotations

import datetime as dt
import html
import ipaddress
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from slack_sdk import WebClient
from sqlalchemy import select

import bot.jobs as jobs
from bot.blocks import models as vm
from bot.blocks.draft import build_verdict_message
from bot.blocks.insights import build_recurrence_notice
from bot.blocks.notices import build_regression_notice
from bot.blocks.target import build_conflict_message
from bot.kb.sync import sync
from bot.llm.base import GapContext, Outline, OutlineSection
from bot.llm.offline import OfflineLLM
from bot.services import Services
from bot.services.threads import ItemInfo
from handlers.ids import ActionId, TargetRef
from storage.models import Article, Draft, Gap
from tests.handlers import conftest as scenario
from tests.support.block_rules import message_problems, view_problems
from tests.support.external_kbs import external_kb, publisher, reader
from tests.support.external_kbs import settings as connector_settings
from tests.support.factories import REFUND_FACT, REFUND_Q, conversation, load
from tests.support.harness import ANA, BEN, REVIEW, SECRET, Harness, find_element, texts, wait
from tests.support.mock_slack import MockSlack
from tests.support.signing import interaction_request

STATS = "C0STATS"
EVIL = "evil.example"
PINGS = "<!channel> <!here> <!everyone> <@U0123BOSS> <#C0GENERAL> <!subteam^S0ADMINS>"
HOSTILE = (f"{PINGS} <https://{EVIL}|Click> *bold* _it_ ~st~ `tick` ``` \u202eRTL\u202c \u200dZWJ\u200b "
           f"\ufeffBOM \U000e0041tag\nline two\r\n@channel @here {REFUND_Q} " + "y" * 5000)
SECTION = f"{PINGS} *Billing* `x` \u202e\n" + "s" * 5000
LABELS = [PINGS, f"<https://{EVIL}|Click>", "*tag*", "z" * 5000]
BODY = (f"{REFUND_Q} {REFUND_FACT}\n\n{PINGS} [Click](javascript:alert(1)) <https://{EVIL}|Click> *bold* `tick`\n\n"
        + ("word " * 1500))
URLS = [  # help-centre links Slack must never be handed as a button or a <url|label>
    "javascript:alert(1)", "data:text/html;base64,PHNjcmlwdD4=", "http://10.0.0.1/admin",
    "http://169.254.169.254/latest/meta-data", "http://127.0.0.1:8080/", "http://[::1]/", "http://localhost/x",
    "http://2130706433/", "https://help.fake@evil.example/a", f"https://{EVIL}|Click", f"https://{EVIL}/a>b",
    "https://help.fake/a b", "https:///nohost", "https://help.fake:99999/", "https://-bad-.fake/",
    "https://" + "a" * 990 + ".fake/",
]
KNOWN_USERS = {ANA, BEN}
harness, settings, slack, world = scenario.harness, scenario.settings, scenario.slack, scenario.world  # fixtures


# --- what Slack would accept, and what it would turn into a ping or a link ----------------------------------------
def url_problem(url: str) -> str | None:
    """Why a button's url or a link target should not reach Slack (or the reader's browser); None: fine."""
    parts = urlsplit(url)
    try:
        port_ok = parts.port != 0
    except ValueError:
        port_ok = False
    if len(url) > 3000 or not url.isascii() or re.search(r"[\s<>|\"`\\]", url) or not port_ok:
        return "not a URL Slack takes"
    if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        return "not an http(s) URL to a host"
    host = parts.hostname
    try:
        return None if ipaddress.ip_address(host).is_global else "an internal address"
    except ValueError:
        labels = host.split(".")
        if len(labels) < 2 or labels[-1].isdigit() or host.endswith((".localhost", ".local", ".internal")):
            return "an internal host"
        ok = all(re.fullmatch(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?", label) for label in labels)
        return None if ok else "not a host name"


_MARKUP = re.compile(r"<([^<>]*)>")


def _objects(obj: Any, kind: str) -> list[str]:
    """The text of every `kind` (mrkdwn, plain_text) text object in a Block Kit structure."""
    if isinstance(obj, dict):
        own = [obj["text"]] if obj.get("type") == kind and isinstance(obj.get("text"), str) else []
        return own + [t for v in obj.values() for t in _objects(v, kind)]
    return [t for v in obj for t in _objects(v, kind)] if isinstance(obj, list) else []


def _urls(obj: Any) -> list[str]:
    if isinstance(obj, dict):
        return [v for k, v in obj.items() if k == "url" and isinstance(v, str)] + [u for v in obj.values()
                                                                                    for u in _urls(v)]
    return [u for v in obj for u in _urls(v)] if isinstance(obj, list) else []


def links(msg: dict[str, Any]) -> list[str]:
    """Where a message links to: its buttons' urls and the targets of every `<…>` in its mrkdwn."""
    marked = [i.split("|")[0] for t in [msg["text"], *_objects(msg["blocks"], "mrkdwn")] for i in _MARKUP.findall(t)]
    return _urls(msg["blocks"]) + [m for m in marked if not m.startswith(("@", "#", "!"))]


# What Slack would carry unseen: controls, zero-width characters (our own joiner after an @ aside), bidi, tags.
SMUGGLED = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u061c\u200b\u200c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff"
                      "\U000e0000-\U000e007f]")


def payload_problems(payload: dict[str, Any], *, view: bool = False) -> list[str]:
    """A message (`text`, `blocks`) or a view as Slack would take it: within Block Kit's limits, no `<…>` but our
    mentions of known people, our channel and safe links, no plain @channel, no control or invisible characters, no
    escaped text shown literally in plain_text, every url one Slack takes."""
    out = view_problems(payload) if view else message_problems(payload.get("blocks") or [])
    mrkdwn = [*([] if view else [payload.get("text") or ""]), *_objects(payload, "mrkdwn")]
    plain = _objects(payload, "plain_text")
    for text in mrkdwn:
        for inner in _MARKUP.findall(text):
            target = inner.split("|", 1)[0]
            ours = {"@": target[1:] in KNOWN_USERS, "#": target[1:] == REVIEW, "!": False}
            if not ours.get(target[:1], url_problem(target) is None and EVIL not in target):
                out.append(f"markup <{inner[:80]}>")
        if re.search(r"(?<![\w.+-])@(channel|here|everyone)\b", text):
            out.append("a plain @channel/@here")
    out += [f"url {u[:60]!r}: {why}" for u in _urls(payload) if (why := url_problem(u))]
    out += [f"smuggled {m!r}" for text in mrkdwn + plain for m in SMUGGLED.findall(text)]
    return out + [f"an entity shown as typed: {t[:60]!r}" for t in plain if re.search("&(lt|gt|amp);", t)]


def _select(options: list[dict[str, Any]]) -> dict[str, Any]:
    return {"text": "x", "blocks": [{"type": "actions", "elements": [{"type": "static_select", "action_id": "a",
                                                                      "options": options}]}]}


def sent_problems(slack: MockSlack) -> list[str]:
    """Everything the bot sent (messages, updates, ephemerals, views, command answers), checked."""
    out = [f"{r.method} rejected: {r.reasons[:3]}" for r in slack.rejections]
    for call in slack.calls:
        if call.method in ("chat.postMessage", "chat.update", "chat.postEphemeral", "webhook"):
            payload = {"text": call.params.get("text") or "", "blocks": call.blocks}
            out += [f"{call.method}: {p}" for p in payload_problems(payload)]
        elif call.method.startswith("views."):
            out += [f"{call.method}: {p}" for p in payload_problems(call.json_param("view"), view=True)]
    return out


# --- the help centre --------------------------------------------------------------------------------------------
def seed_hostile(services: Services, *, url: str | None = None) -> int:
    """One hostile article (and its section, labels, link) stored by the real Zendesk sync; returns its KB id."""
    with external_kb("zendesk", now=lambda: 0.0) as kb:
        kb.sections["501"] = {"en-us": SECTION}
        ext = kb.seed(HOSTILE, f"<p>{html.escape(BODY)}</p>", section_id=501, label_names=LABELS)
        if url is not None:
            kb.articles[ext]["html_url"] = url
        sync(services.kb, services.session, reader("zendesk"), clock=services.clock, full=True)
    with services.session() as s:
        return s.scalars(select(Article.id).where(Article.external_source == "zendesk")).one()


def choose_target(h: Harness, ts: str, article_id: int) -> None:
    """Open the outline's target select (signed block_suggestions, without and with a hostile typed query), check
    its options, and pick the article (a signed block_actions)."""
    base = {"user": {"id": ANA, "username": "ana", "team_id": "T111"}, "api_app_id": "A111", "token": "t",
            "team": {"id": "T111", "domain": "flywheel-test"}, "channel": {"id": REVIEW, "name": "review"},
            "container": {"type": "message", "message_ts": ts, "channel_id": REVIEW, "is_ephemeral": False},
            "message": h.message(REVIEW, ts)}
    block_id = next(b["block_id"] for b in h.message(REVIEW, ts)["blocks"] if "accessory" in b
                    and b["accessory"]["action_id"] == ActionId.PICK_TARGET)
    options = [o for typed in ("", HOSTILE[:2000]) for o in json.loads(h.dispatch(interaction_request(
        {**base, "type": "block_suggestion", "block_id": block_id, "action_id": ActionId.PICK_TARGET.value,
         "value": typed}, secret=SECRET)).body)["options"]]
    assert payload_problems(_select(options)) == []
    synced = next(o for o in options if TargetRef.load(o["value"]).article_id == article_id)
    assert " · " in synced["text"]["text"]  # "Update #N: <title>… · <section>…": both cut to fit 75 characters
    action = {"action_id": ActionId.PICK_TARGET.value, "block_id": "b", "type": "external_select",
              "selected_option": synced, "action_ts": "1.0"}
    assert h.dispatch(interaction_request({**base, "type": "block_actions", "trigger_id": "trig.1", "actions": [action],
                                           "state": {"values": {}}, "response_url": h.slack.webhook_url("action")},
                                          secret=SECRET)).status == 200


def quoting(title: str) -> Callable[[GapContext], Outline]:
    """A model quoting the article it was given (as a real one may): its stored title as title and sections.
    (The stored title: a longer one from the model would stop the outline on PostgreSQL, see docs/SECURITY.md.)"""
    def outline(gap: GapContext) -> Outline:
        quoted = [title, *(a.title for a in gap.related_articles)]
        return OfflineLLM().outline(gap).model_copy(update={
            "title": title, "summary": " ".join(quoted), "questions_for_experts": quoted,
            "sections": [OutlineSection(heading=t, points=[t, SECTION]) for t in quoted]})
    return outline


def stored_title(services: Services, article_id: int) -> str:
    with services.session() as s:
        return s.get_one(Article, article_id).title


def verified_hostile_gap(harness: Harness, world: dict[str, ItemInfo], *, url: str | None = None) -> tuple[Gap, int]:
    """c1's gap fixed by updating a hostile synced article, through signed requests: outline, target select, notice,
    edit modals, draft, shadow test, publish, verdict. Returns the verified gap and the article's KB id."""
    article_id = seed_hostile(harness.services, url=url)
    llm: Any = harness.services.llm  # the FakeLLM of the `services` fixture
    llm.enqueue("outline", quoting(stored_title(harness.services, article_id)))
    item = world["c1"]
    gap_msg = harness.flag(item)
    wait(lambda: f"updates article #{article_id}" in texts(harness.message(REVIEW, gap_msg["ts"])),
         what="the outline proposes the synced article")
    choose_target(harness, gap_msg["ts"], article_id)
    notice = harness.thread_with(item, "chose what gap")
    harness.click(REVIEW, gap_msg["ts"], ActionId.EDIT_OUTLINE)
    harness.click(REVIEW, notice["ts"], ActionId.WRITE_DRAFT)
    draft = harness.thread_with(item, "Draft for gap #")
    assert "&lt;!channel&gt;" in texts(draft)  # the article's title and body, shown as text
    harness.click(REVIEW, draft["ts"], ActionId.EDIT_DRAFT)
    harness.click(REVIEW, draft["ts"], ActionId.TEST_DRAFT)
    harness.thread_with(item, "Shadow test")
    harness.click(REVIEW, draft["ts"], ActionId.PUBLISH)
    verdict = harness.thread_with(item, "replayed after publishing")
    rollback = find_element(verdict["blocks"], ActionId.ROLLBACK)  # an update: v2 of the synced article
    assert rollback["text"]["text"] == ":rewind: Roll back to v1"
    assert "&lt;" not in rollback["confirm"]["text"]["text"]  # plain text: Slack would show "&lt;" as typed
    with harness.services.session() as s:
        gap = s.scalars(select(Gap)).one()
        s.expunge(gap)
    assert gap.state == "verified" and gap.article_id == article_id
    wait(lambda: len(harness.slack.calls_to("views.open")) == 2, what="the edit modals")
    return gap, article_id


# --- the tests ----------------------------------------------------------------------------------------------------
def test_a_hostile_article_through_the_gap_thread_and_its_notices(harness: Harness, world: dict[str, ItemInfo],
                                                                 tmp_path: Path) -> None:
    """The thread, then the regression notice (a later edit breaks the fix) and the recurrence notice (the question
    comes back): nothing pings, links out or is refused; an internal or spoofed article link gives no button."""
    gap, article_id = verified_hostile_gap(harness, world, url="http://169.254.169.254/latest/meta-data")
    services = harness.services
    with services.session() as s:  # the help centre's next edit loses the fact
        article = s.get_one(Article, article_id)
        assert article.external_url == "http://169.254.169.254/latest/meta-data"  # the sync stored it as sent
        services.kb.save(s, article_id=article_id, title=article.title, body=f"{PINGS} Contact us.", author="UCAROL03")
    client = WebClient(base_url=harness.slack.url, token="xoxb-test")
    assert jobs.regression_job(services, client, now=services.clock()) == 1
    notice = harness.thread_with(world["c1"], "regression replay of")
    assert links(notice) == []  # no "Open the article", no <url|label> to the metadata service
    rollback = find_element(notice["blocks"], ActionId.ROLLBACK)
    assert rollback["text"]["text"].endswith("” to v2") and "&lt;" not in rollback["text"]["text"]

    with services.session() as s:
        s.get_one(Gap, gap.id).state = "verified"  # fixed again, and the same question comes back wrong
        s.get_one(Article, article_id).external_url = "https://help.fake@evil.example/article"
    load(services, tmp_path, [conversation("c9", gap=True)], name="later.jsonl")
    assert jobs.recurrence_job(services, client, now=services.clock()) == 1
    came_back = harness.thread_with(world["c1"], "This came back")
    assert links(came_back) == []  # user info before the host: the button is left out
    assert find_element(came_back["blocks"], ActionId.EDIT_AND_RETRY)
    harness.drain()
    assert sent_problems(harness.slack) == []


def test_app_home_lists_commands_and_the_weekly_post(harness: Harness, world: dict[str, ItemInfo]) -> None:
    """App Home, `/flywheel gaps`, `gaps topics`, `search` and the weekly post, the hostile title as gap title."""
    _, article_id = verified_hostile_gap(harness, world, url=f"https://help.fake/a|<https://{EVIL}|Click>")
    services = harness.services
    llm: Any = services.llm
    llm.enqueue("outline", quoting(stored_title(services, article_id)))
    assert harness.react("books", world["c2"], user=BEN).status == 200  # an open gap: the backlog, the top topics
    harness.thread_with(world["c2"], "Suggested article")
    assert harness.event({"type": "app_home_opened", "user": ANA, "channel": "D0ANA", "tab": "home"}).status == 200
    home = harness.slack.wait_for("views.publish")[-1].json_param("view")
    assert "&lt;!channel&gt;" in texts(home)  # the gap's title, as text
    for command in ("gaps", "gaps open", "gaps topics", "search refund credit card", f"search {HOSTILE[:500]}"):
        before = len(harness.slack.calls_to("webhook"))
        assert harness.command(command).status == 200
        harness.slack.wait_for("webhook", before + 1, timeout=15)
    services.settings.stats_channel = STATS
    client = WebClient(base_url=harness.slack.url, token="xoxb-test")
    assert jobs.weekly_stats_job(services, client, now=services.clock() + dt.timedelta(days=7))
    harness.drain()
    answers = [texts(c.params) for c in harness.slack.calls_to("webhook")]
    assert any("&lt;@U0123BOSS&gt;" in a for a in answers)  # search shows the hostile title, escaped
    assert sent_problems(harness.slack) == []


def test_a_conflict_with_the_help_centre_names_the_hostile_article_safely(harness: Harness,
                                                                          world: dict[str, ItemInfo]) -> None:
    """A publish the help centre's edits refuse: the conflict message quotes their title and lines, and their link
    with a non-ASCII host and path goes to Slack in its ASCII form (punycode, percent-encoded), as browsers show it."""
    services, services.integrations = harness.services, connector_settings()
    with external_kb("zendesk", now=lambda: 0.0) as kb:
        kb.sections["501"] = {"en-us": SECTION}
        ext = kb.seed(HOSTILE, f"<p>{REFUND_Q}</p><p>{html.escape(PINGS)} depends on when.</p>", section_id=501)
        kb.articles[ext]["html_url"] = "https://hélp.fake/hc/ja/返金"
        sync(services.kb, services.session, reader("zendesk"), clock=services.clock)
        item = world["c1"]
        draft_msg = harness.write_draft(item, harness.flag(item))
        with services.session() as s:
            draft = s.scalars(select(Draft)).one()
            assert draft.target_article_id is not None
            draft.body = draft.body.replace("depends on when", "is 5 business days after")
        kb.edit(ext, body=f"<p>{REFUND_Q}</p><p>{html.escape(PINGS)} is 10 days &amp; more.</p>")
        services.publisher = publisher("zendesk")
        harness.click(REVIEW, draft_msg["ts"], ActionId.PUBLISH)
        conflict = harness.thread_with(item, "was edited in the help centre")
    assert "&lt;!channel&gt;" in texts(conflict)
    assert links(conflict) == ["https://xn--hlp-bma.fake/hc/ja/%E8%BF%94%E9%87%91"] * 2  # the button, the <url|title>
    harness.drain()
    assert sent_problems(harness.slack) == []


# --- what no entry point carries today: the builders themselves -------------------------------------------------
def _article_messages(url: str) -> dict[str, dict[str, Any]]:
    """Every builder given a help centre's link, with the hostile title (and a NUL, an escape and a bidi mark: the
    sync drops those, a model's answer or another source may not)."""
    t = HOSTILE + "\x00\x1b[31m\u200f"
    return {name: msg.as_kwargs() for name, msg in {
        "regression": build_regression_notice(vm.RegressionNoticeView(
            gap_id=1, verdict="fail", question=t, before=t, after=t, fixed_by=ANA, changes=(t,), article_title=t,
            article_url=url, draft_id=3, rollback_article_id=5, rollback_from=2, rollback_title=t)),
        "recurrence": build_recurrence_notice(vm.RecurrenceNoticeView(
            gap_id=1, gap_title=t, items=(vm.RecurrenceItem("c9", "2026-11-20", (t,)),), fixed_by=ANA, question=t,
            before=t, after=t, article_url=url, draft_id=3)),
        "conflict": build_conflict_message(vm.ConflictView(gap_id=1, article_id=2, article_title=t, article_url=url,
                                                        conflicts=(vm.ConflictLinesView((t,), (t,), (t,)),))),
        "verdict": build_verdict_message(vm.VerdictView(gap_id=1, verdict="fail", before=t, after=t, reasons=(t,),
                                                     article_title=t, article_url=url, draft_id=3, run_id=4,
                                                     article_id=2, article_version=3)),
    }.items()}


@pytest.mark.parametrize("url", [*URLS, "https://help.fake/" + "p" * 2990, "https://help.fake/a\u202eb\x00"])
def test_a_link_slack_or_the_reader_should_not_get_is_left_out(url: str) -> None:
    for name, msg in _article_messages(url).items():
        assert (name, payload_problems(msg), links(msg)) == (name, [], [])


def test_a_good_link_is_kept_and_a_long_one_stays_on_its_button() -> None:
    for name, msg in _article_messages("https://HÉLP.fake/hc/ja/返金?q=1&r=2#top").items():
        assert "https://xn--hlp-bma.fake/hc/ja/%E8%BF%94%E9%87%91?q=1&r=2#top" in links(msg), name
    long = "https://help.fake/" + "p" * 2000  # a button takes it; a <url|label> would crowd its section
    shown = {name: links(msg) for name, msg in _article_messages(long).items()}
    assert shown == {"regression": [long], "recurrence": [long], "conflict": [long], "verdict": []}
