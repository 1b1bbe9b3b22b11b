from __future__ import annotations

import time

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.blocks import build_conversation_modal, build_digest_header, build_home_view
from bot.blocks.common import section
from bot.blocks.models import ConversationView, DigestHeaderView, HomeView, TurnView
from bot.errors import ConfigError
from bot.settings import Settings
from bot.slack.client import SlackPostError, make_web_client, post_message, update_message
from tests.support.mock_slack import BOT_USER_ID, MockSlack


def plain_client(mock: MockSlack, token: str = "xoxb-test") -> WebClient:
    """No retry handlers at all: shows what the mock really answered."""
    return WebClient(token=token, base_url=mock.url, retry_handlers=[])


# --- make_web_client -------------------------------------------------------------------------------
def test_make_web_client_configuration(slack_settings: Settings, mock_slack: MockSlack) -> None:
    client = make_web_client(slack_settings)
    assert client.base_url == mock_slack.url
    assert client.timeout == 30
    assert client.token == "xoxb-test-token"
    handlers = {type(h): h.max_retry_count for h in client.retry_handlers}
    assert handlers == {RateLimitErrorRetryHandler: 5, ConnectionErrorRetryHandler: 3, ServerErrorRetryHandler: 2}
    assert make_web_client(slack_settings, token="xoxb-other").token == "xoxb-other"


def test_make_web_client_needs_a_token() -> None:
    with pytest.raises(ConfigError, match="SLACK_BOT_TOKEN"):
        make_web_client(Settings(_env_file=None))  # type: ignore[call-arg]


# --- recording and realistic answers ---------------------------------------------------------------
def test_records_json_and_form_calls(mock_slack: MockSlack, slack_client: WebClient) -> None:
    msg = build_digest_header(DigestHeaderView(day="2026-07-20", count=3))
    ts = post_message(slack_client, channel="C0REVIEW", thread_ts=None, **msg.as_kwargs())
    slack_client.reactions_add(channel="C0REVIEW", timestamp=ts, name="eyes")

    post = mock_slack.last("chat.postMessage")
    assert post.headers["content-type"].startswith("application/json")
    assert post.headers["authorization"] == "Bearer xoxb-test-token"
    assert post.params["channel"] == "C0REVIEW"
    assert post.params["unfurl_links"] is False and post.params["unfurl_media"] is False
    assert post.blocks[0]["type"] == "header"
    assert post.response["ts"] == ts and post.response["message"]["user"] == BOT_USER_ID

    react = mock_slack.last("reactions.add")
    assert react.headers["content-type"].startswith("application/x-www-form-urlencoded")
    assert react.params == {"channel": "C0REVIEW", "timestamp": ts, "name": "eyes"}
    assert [c.method for c in mock_slack.calls] == ["chat.postMessage", "reactions.add"]
    assert mock_slack.messages[("C0REVIEW", ts)]["reactions"][0]["users"] == [BOT_USER_ID]


def test_ts_values_are_unique_and_increasing(mock_slack: MockSlack, slack_client: WebClient) -> None:
    stamps = [post_message(slack_client, channel="C0REVIEW", text=f"m{i}") for i in range(15)]
    as_numbers = [tuple(map(int, ts.split("."))) for ts in stamps]
    assert as_numbers == sorted(as_numbers) and len(set(stamps)) == 15


def test_threads_updates_and_lookups(mock_slack: MockSlack, slack_client: WebClient) -> None:
    parent = post_message(slack_client, channel="C0REVIEW", text="item")
    reply = post_message(slack_client, channel="C0REVIEW", text="outline", thread_ts=parent)
    note = mock_slack.add_message("C0REVIEW", "the fee is 5%", user="U0ANA", thread_ts=parent)
    update_message(slack_client, channel="C0REVIEW", ts=reply, text="outline v2", blocks=[section("v2")])

    replies = slack_client.conversations_replies(channel="C0REVIEW", ts=parent)["messages"]
    assert [m["ts"] for m in replies] == [parent, reply, note]
    assert replies[1]["text"] == "outline v2" and replies[1]["blocks"][0]["text"]["text"] == "v2"
    assert replies[0]["reply_count"] == 1

    mock_slack.add_user("U0ANA", "ana", "Ana Lima")
    assert slack_client.users_info(user="U0ANA")["user"]["profile"]["real_name"] == "Ana Lima"
    assert slack_client.conversations_info(channel="C0REVIEW")["channel"]["is_member"] is True
    auth = slack_client.auth_test()
    assert auth["user_id"] == BOT_USER_ID and "chat:write" in auth.headers["x-oauth-scopes"]
    assert slack_client.chat_postEphemeral(channel="C0REVIEW", user="U0ANA", text="only you")["message_ts"]
    assert slack_client.chat_getPermalink(channel="C0REVIEW", message_ts=parent)["permalink"].startswith("https://")
    slack_client.chat_delete(channel="C0REVIEW", ts=reply)
    with pytest.raises(SlackApiError) as info:
        update_message(slack_client, channel="C0REVIEW", ts=reply, text="gone")
    assert info.value.response["error"] == "message_not_found"


def test_views(mock_slack: MockSlack, slack_client: WebClient) -> None:
    modal = build_conversation_modal(ConversationView(1, "T-1", [TurnView(0, "user", "hi")]))
    opened = slack_client.views_open(trigger_id="111.222.abc", view=modal)["view"]
    assert opened["id"].startswith("V") and opened["callback_id"] == "conversation_modal"
    updated = slack_client.views_update(view_id=opened["id"], view=modal)["view"]
    assert updated["id"] == opened["id"] and updated["hash"] != opened["hash"]
    with pytest.raises(SlackApiError) as info:
        slack_client.views_open(trigger_id="111.222.abc", view=modal)
    assert info.value.response["error"] == "exchanged_trigger_id"

    slack_client.views_publish(user_id="U0ANA", view=build_home_view(HomeView(user_id="U0ANA")))
    assert mock_slack.home_views["U0ANA"]["type"] == "home"


def test_files_upload_v2_round_trip(mock_slack: MockSlack, slack_client: WebClient) -> None:
    png = b"\x89PNG\r\n\x1a\nchart-bytes"
    response = slack_client.files_upload_v2(
        channel="C0STATS", content=png, filename="week.png", title="Week 29", initial_comment="Stats"
    )
    assert response["file"]["title"] == "Week 29"
    get_url = mock_slack.last("files.getUploadURLExternal")
    assert get_url.params["filename"] == "week.png" and int(get_url.params["length"]) == len(png)
    assert get_url.response["upload_url"].startswith(mock_slack.root)
    upload = mock_slack.last("upload")
    assert upload.body == png and "authorization" not in upload.headers
    complete = mock_slack.last("files.completeUploadExternal")
    assert complete.params["channel_id"] == "C0STATS"
    assert complete.json_param("files")[0]["id"] == get_url.response["file_id"]
    assert mock_slack.uploads[get_url.response["file_id"]] == png


def test_auth_is_checked(mock_slack: MockSlack) -> None:
    for token, error in ((None, "not_authed"), ("nope", "invalid_auth")):
        with pytest.raises(SlackApiError) as info:
            WebClient(token=token, base_url=mock_slack.url).auth_test()
        assert info.value.response["error"] == error
    with pytest.raises(SlackApiError) as info:
        plain_client(mock_slack).api_call("chat.postMesage")
    assert info.value.response["error"] == "unknown_method"


# --- Block Kit limits ------------------------------------------------------------------------------
def test_rejects_51_blocks_and_records_why(mock_slack: MockSlack, slack_client: WebClient) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": f"b{i}"}} for i in range(51)]
    with pytest.raises(SlackApiError) as info:
        slack_client.chat_postMessage(channel="C0REVIEW", text="x", blocks=blocks)
    assert info.value.response["error"] == "invalid_blocks"
    assert mock_slack.rejections[-1].method == "chat.postMessage"
    assert "blocks: 51 blocks (max 50)" in mock_slack.rejections[-1].reasons
    assert not mock_slack.messages
    slack_client.chat_postMessage(channel="C0REVIEW", text="x", blocks=blocks[:50])  # 50 is fine
    assert len(mock_slack.messages) == 1


def _button(action_id: str = "a", label: str = "b", **extra: str) -> dict:
    return {"type": "button", "action_id": action_id, "text": {"type": "plain_text", "text": label}, **extra}


def _options(n: int) -> list[dict]:
    return [{"text": {"type": "plain_text", "text": str(i)}, "value": str(i)} for i in range(n)]


@pytest.mark.parametrize(
    ("block", "reason"),
    [
        ({"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}, "3001 chars (max 3000)"),
        ({"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}, "max 150"),
        ({"type": "actions", "elements": [_button(f"a{i}") for i in range(26)]}, "1..25"),
        ({"type": "actions", "elements": [_button(value="v" * 2001)]}, "max 2000"),
        ({"type": "actions", "elements": [_button(label="b" * 76)]}, "max 75"),
        ({"type": "actions", "elements": [_button(), _button()]}, "duplicate action_id"),
        (
            {"type": "section", "text": {"type": "mrkdwn", "text": "pick"},
             "accessory": {"type": "static_select", "action_id": "s", "options": _options(101)}},
            "more than 100 options",
        ),
        ({"type": "section", "text": {"type": "mrkdwn", "text": ""}}, "non-empty"),
    ],
)
def test_rejects_blocks_over_limits(mock_slack: MockSlack, slack_client: WebClient, block: dict, reason: str) -> None:
    with pytest.raises(SlackApiError) as info:
        slack_client.chat_postMessage(channel="C0REVIEW", text="x", blocks=[block])
    assert info.value.response["error"] == "invalid_blocks"
    assert any(reason in r for r in mock_slack.rejections[-1].reasons), mock_slack.rejections[-1].reasons


def test_rejects_bad_views(mock_slack: MockSlack, slack_client: WebClient) -> None:
    view = {"type": "modal", "title": {"type": "plain_text", "text": "A title that is far too long"},
            "blocks": [{"type": "divider"}] * 101}
    with pytest.raises(SlackApiError) as info:
        slack_client.views_open(trigger_id="1.2.3", view=view)
    assert info.value.response["error"] == "invalid_blocks"
    reasons = mock_slack.rejections[-1].reasons
    assert any("view.title" in r for r in reasons) and any("101 blocks (max 100)" in r for r in reasons)


# --- failures and retries --------------------------------------------------------------------------
def test_injected_429_is_retried_by_make_web_client(mock_slack: MockSlack, slack_client: WebClient) -> None:
    mock_slack.fail_next("chat.postMessage", status=429, retry_after=0)
    ts = post_message(slack_client, channel="C0REVIEW", text="hello")
    statuses = [c.status for c in mock_slack.calls_to("chat.postMessage")]
    assert statuses == [429, 200]
    assert mock_slack.calls_to("chat.postMessage")[0].response == {"ok": False, "error": "ratelimited"}
    assert mock_slack.messages[("C0REVIEW", ts)]["text"] == "hello"


def test_injected_429_without_retry_handler_fails(mock_slack: MockSlack) -> None:
    mock_slack.fail_next("chat.postMessage", status=429, retry_after=7)
    with pytest.raises(SlackApiError) as info:
        plain_client(mock_slack).chat_postMessage(channel="C0REVIEW", text="x")
    assert info.value.response.status_code == 429
    assert info.value.response.headers["Retry-After"] == "7"


def test_injected_500_is_retried(mock_slack: MockSlack, slack_client: WebClient) -> None:
    mock_slack.fail_next("reactions.add", status=500)
    ts = post_message(slack_client, channel="C0REVIEW", text="x")
    slack_client.reactions_add(channel="C0REVIEW", timestamp=ts, name="eyes")
    assert [c.status for c in mock_slack.calls_to("reactions.add")] == [500, 200]


@pytest.mark.parametrize("code", ["channel_not_found", "not_in_channel", "is_archived"])
def test_expected_channel_errors_become_slack_post_error(
    mock_slack: MockSlack, slack_client: WebClient, code: str
) -> None:
    mock_slack.fail_next("chat.postMessage", error=code)
    with pytest.raises(SlackPostError) as info:
        post_message(slack_client, channel="C0REVIEW", text="x")
    assert info.value.code == code and info.value.channel == "C0REVIEW"
    assert code not in info.value.message and "channel" in info.value.message.lower()


def test_channel_state_drives_errors(mock_slack: MockSlack, slack_client: WebClient) -> None:
    mock_slack.add_channel("C0OUT", is_member=False)
    mock_slack.add_channel("C0OLD", is_archived=True)
    for channel, code in (("C0OUT", "not_in_channel"), ("C0OLD", "is_archived"), ("#review", "channel_not_found")):
        with pytest.raises(SlackPostError) as info:
            post_message(slack_client, channel=channel, text="x")
        assert info.value.code == code


def test_unexpected_errors_propagate(mock_slack: MockSlack, slack_client: WebClient) -> None:
    mock_slack.fail_next("chat.update", error="cant_update_message", times=2)
    for _ in range(2):
        with pytest.raises(SlackApiError):
            update_message(slack_client, channel="C0REVIEW", ts="1.2", text="x")
    assert [c.response["error"] for c in mock_slack.calls_to("chat.update")] == ["cant_update_message"] * 2


def test_fail_next_needs_an_error_or_status(mock_slack: MockSlack) -> None:
    with pytest.raises(ValueError):
        mock_slack.fail_next("chat.postMessage")


def test_optional_per_channel_rate_limit(slack_settings: Settings) -> None:
    with MockSlack(rate_limit=True) as mock:
        client = plain_client(mock)
        client.chat_postMessage(channel="C0A", text="1")
        client.chat_postMessage(channel="C0B", text="other channel is fine")
        with pytest.raises(SlackApiError) as info:
            client.chat_postMessage(channel="C0A", text="2")
        assert info.value.response.status_code == 429
        retrying = make_web_client(slack_settings.model_copy(update={"slack_api_url": mock.url}))
        start = time.monotonic()
        retrying.chat_postMessage(channel="C0A", text="3")
        assert time.monotonic() - start >= 0.9
        assert [c.status for c in mock.calls_to("chat.postMessage")][-2:] == [429, 200]


def test_webhook_url_records_respond_calls(mock_slack: MockSlack) -> None:
    from slack_sdk.webhook import WebhookClient

    WebhookClient(mock_slack.webhook_url()).send(text="done", response_type="ephemeral")
    assert mock_slack.last("webhook").params == {"text": "done", "response_type": "ephemeral"}


def test_wait_for(mock_slack: MockSlack, slack_client: WebClient) -> None:
    post_message(slack_client, channel="C0REVIEW", text="x")
    assert len(mock_slack.wait_for("chat.postMessage", 1, timeout=0.5)) == 1
    with pytest.raises(AssertionError):
        mock_slack.wait_for("chat.postMessage", 2, timeout=0.1)
    mock_slack.clear()
    assert mock_slack.calls == []
