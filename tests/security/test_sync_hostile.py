"""A hostile help centre, through the KB sync's real readers and `sync()`: deeply nested HTML, executable links
and images, NUL bytes, Slack control sequences, a next-page link that points back, an answer too big to hold."""
# mypy: disable-error-code="no-untyped-def"

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest
import responses
from sqlalchemy import select

from bot.integrations.html import html_to_markdown, markdown_to_html
from bot.integrations.http import HttpClient, SourceError
from bot.kb.sync import sync
from bot.services import Services
from storage.models import Article
from tests.support.external_kbs import ZD, external_kb, reader

NOW = dt.datetime(2026, 11, 21, 9, 0, tzinfo=dt.UTC)
LISTING = re.compile(rf"{ZD}/api/v2/help_center/en-us/articles\.json.*")


def run(services: Services, rd, *, full: bool = True):
    return sync(services.kb, services.session, rd, clock=lambda: NOW, full=full)


def stored(services: Services) -> list[Article]:
    with services.session() as s:
        rows = list(s.scalars(select(Article).where(Article.external_source == "zendesk").order_by(Article.id)))
        s.expunge_all()
        return rows


def test_deeply_nested_html_is_synced_not_a_recursion_error(services: Services) -> None:
    deep = "<div>" * 3000 + "<p>Refunds take 5 days.</p>" + "</div>" * 3000
    with external_kb("zendesk", now=lambda: 0.0) as kb:
        kb.seed("Refund times", deep)
        kb.seed("Shipping", "<p>Ships in 2 days.</p>")
        report = run(services, reader("zendesk"))
    assert report.created == 2  # before: RecursionError, and no article of the pass was stored
    assert [a.body for a in stored(services)] == ["Refunds take 5 days.", "Ships in 2 days."]


@pytest.mark.parametrize("html, kept, gone", [
    ('<p><a href="javascript:alert(1)" onclick="steal()">Click</a></p>', "Click", ["javascript", "onclick"]),
    ('<a href=" JaVa&#x09;ScRiPt:alert(1)">Tab</a>', "Tab", ["ScRiPt", "alert"]),
    ('<img src="data:image/svg+xml;base64,PHN2Zz4=" alt="chart" onerror="x()">', "chart", ["data:", "onerror"]),
    ('<img src="//evil.test/pixel.gif" alt="px">', "px", ["evil.test"]),
    ('<a href="vbscript:msgbox(1)">VB</a>', "VB", ["vbscript"]),
    ("<p>ok</p><script>fetch('//evil')</script><iframe src='https://evil.test'></iframe><style>*{}</style>",
     "ok", ["fetch", "evil", "{}"]),
])
def test_executable_links_and_images_do_not_reach_the_kb(html: str, kept: str, gone: list[str]) -> None:
    body = html_to_markdown(html)
    assert kept in body
    assert not [g for g in gone if g.lower() in body.lower()], body


def test_safe_links_and_images_are_kept() -> None:
    body = html_to_markdown('<p><a href="https://acme.test/r">policy</a> <a href="/hc/x">here</a> '
                            '<a href="mailto:help@acme.test">mail</a> <img src="https://acme.test/c.png" alt="c"></p>')
    assert body == ("[policy](https://acme.test/r) [here](/hc/x) [mail](mailto:help@acme.test) "
                    "![c](https://acme.test/c.png)")


def test_slack_control_sequences_stay_text_and_markdown_smuggles_no_html_back(services: Services) -> None:
    title = "<!channel> Refunds <@U0BOSS> <http://evil.test|click>"
    html = ("<p>&lt;!here&gt; call &lt;http://evil.test|support&gt;</p>"
            '<p>&lt;img src=x onerror=alert(1)&gt; <a href="https://acme.test/r">ok</a></p>')
    with external_kb("zendesk", now=lambda: 0.0) as kb:
        kb.seed(title, html)
        run(services, reader("zendesk"))
    [article] = stored(services)
    assert article.title == title  # stored as the help centre has it; Slack output escapes it (bot/blocks esc)
    republished = markdown_to_html(article.body)  # what a later publish sends back to Zendesk / Intercom
    assert "<img" not in republished and "onerror=alert(1)&gt;" in republished
    assert '<a href="https://acme.test/r">ok</a>' in republished and "<http" not in republished


def test_nul_bytes_and_control_characters_in_an_article_are_cleaned(services: Services) -> None:
    with external_kb("zendesk", now=lambda: 0.0) as kb:
        kb.seed("Refunds\x00 policy\x07", "<p>Five\x00 days\x1b[31m.</p>")
        report = run(services, reader("zendesk"))
    assert report.created == 1  # before, on PostgreSQL: "A string literal cannot contain NUL characters"
    [article] = stored(services)
    assert (article.title, article.body) == ("Refunds policy", "Five days[31m.")


def _loop(kb_pages: list[int]) -> Any:
    def listing(req: Any) -> tuple[int, dict[str, str], str]:
        kb_pages.append(1)
        if len(kb_pages) > 50:
            raise AssertionError("the reader is still paging: a next_page loop")
        article = {"id": len(kb_pages), "title": f"Article {len(kb_pages)}", "body": "<p>text</p>",
                   "locale": "en-us", "updated_at": "2026-11-20T00:00:00Z"}
        nxt = f"{ZD}/api/v2/help_center/en-us/articles.json?page=2"  # page 2 says: page 2 again
        return 200, {"Content-Type": "application/json"}, json.dumps({"articles": [article], "next_page": nxt})
    return listing


def test_a_next_page_pointing_back_stops_the_pass(services: Services) -> None:
    calls: list[int] = []
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_callback(responses.GET, LISTING, callback=_loop(calls))
        with pytest.raises(SourceError, match="pagination loop"):
            run(services, reader("zendesk"))
    assert len(calls) == 2  # the first page, page 2; page 2 again is refused before it is asked
    assert {a.title for a in stored(services)} == {"Article 1", "Article 2"}  # what was read is kept


def test_an_answer_over_the_size_bound_is_refused() -> None:
    client = HttpClient("Zendesk", ZD, timeout=5, error=SourceError, max_response_bytes=1000)
    with responses.RequestsMock() as mock:
        mock.add(responses.GET, f"{ZD}/big", body=b'{"a": "' + b"x" * 5000 + b'"}')
        mock.add(responses.GET, f"{ZD}/small", json={"a": "x" * 100})
        with pytest.raises(SourceError, match="over 1000 bytes") as err:
            client.request("GET", "/big")
        assert err.value.retryable is False
        assert client.json(client.request("GET", "/small")) == {"a": "x" * 100}


def test_a_trickled_answer_is_cut_at_the_body_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    ticks = iter(range(0, 10_000, 10))  # each piece arrives 10 s after the one before
    monkeypatch.setattr("bot.integrations.http.time.monotonic", lambda: float(next(ticks)))
    monkeypatch.setattr("bot.integrations.http._PIECE", 8)
    client = HttpClient("Zendesk", ZD, timeout=5, error=SourceError, body_deadline=60)
    with responses.RequestsMock() as mock:
        mock.add(responses.GET, f"{ZD}/slow", body=b"x" * 200)
        with pytest.raises(SourceError, match="took too long"):
            client.request("GET", "/slow")


def test_invalid_utf8_in_one_article_garbles_nothing_else(services: Services) -> None:
    good = {"id": 1, "title": "Délais de remboursement", "body": "<p>返金</p>", "locale": "en-us", "updated_at": "1"}
    bad = {"id": 2, "title": "Caf\x00TITLE", "body": "<p>Cr\x00BODY</p>", "locale": "en-us", "updated_at": "1"}
    raw = json.dumps({"articles": [good, bad], "next_page": None}, ensure_ascii=False).encode()
    raw = raw.replace(b"\\u0000TITLE", b"\xe9").replace(b"\\u0000BODY", b"\xe8me")  # Latin-1 bytes
    with responses.RequestsMock() as mock:
        mock.add(responses.GET, LISTING, body=raw, content_type="text/plain")  # no charset said (a proxy)
        report = run(services, reader("zendesk"))
    assert report.created == 2
    # before: requests guessed a charset for the whole page, and every article on it came out garbled
    assert [(a.title, a.body) for a in stored(services)] == [("Délais de remboursement", "返金"),
                                                             ("Caf\ufffd", "Cr\ufffdme")]


def test_json_nested_too_deep_is_a_typed_error() -> None:
    client = HttpClient("Zendesk", ZD, timeout=5, error=SourceError)
    with responses.RequestsMock() as mock:
        mock.add(responses.GET, f"{ZD}/deep", body=b"[" * 100_000, content_type="application/json")
        with pytest.raises(SourceError, match="without a JSON object"):
            client.json(client.request("GET", "/deep"))


@pytest.mark.parametrize("body", [5, ["<p>x</p>"], {"html": "x"}, None])
def test_a_body_that_is_not_text_skips_the_article_not_the_pass(services: Services, body: object) -> None:
    odd = {"id": 2, "title": "Odd", "body": body, "locale": "en-us", "updated_at": "1"}
    good = {"id": 3, "title": "Refunds", "body": "<p>Five days.</p>", "locale": "en-us", "updated_at": "1"}
    with responses.RequestsMock() as mock:
        mock.add(responses.GET, LISTING, json={"articles": [odd, good], "next_page": None})
        report = run(services, reader("zendesk"))
    assert report.created == 1 and [a.title for a in stored(services)] == ["Refunds"]
