"""Issue 12, item 7: unsigned requests never cause work. A forged request with a fresh timestamp used to get
HTTP 500 and make the bot post an ephemeral error to a channel and user of the sender's choosing; any
verification failure is now 401, nothing runs, nothing is posted, and one log line says why."""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from urllib.parse import quote

import pytest
from slack_bolt import App
from slack_bolt.request import BoltRequest

from bot.slack.verify import signature_problem
from tests.security.conftest import SECRET
from tests.support.mock_slack import MockSlack
from tests.support.signing import FORM, sign

VICTIM_CHANNEL, VICTIM = "C0VICTIM1", "U0VICTIM1"
BODY = "payload=" + quote(json.dumps({
    "type": "block_actions", "user": {"id": VICTIM, "team_id": "T111"}, "team": {"id": "T111"},
    "channel": {"id": VICTIM_CHANNEL}, "api_app_id": "A111", "trigger_id": "1.2.3",
    "actions": [{"action_id": "probe_button", "type": "button", "value": "{}", "action_ts": "1.2"}]}))


def headers(fault: str) -> dict[str, str]:
    now = str(int(time.time()))
    good = sign(BODY, secret=SECRET, content_type=FORM).headers
    return {
        "no signature": {"content-type": FORM, "x-slack-request-timestamp": now},
        "non-ASCII signature": {**good, "x-slack-signature": "v0=é" + "0" * 63},
        "non-numeric timestamp": {**good, "x-slack-request-timestamp": now + "abc"},
        "signed with another secret": sign(BODY, secret="another-secret", content_type=FORM).headers,
        "stale timestamp": sign(BODY, secret=SECRET, content_type=FORM, timestamp=int(time.time()) - 301).headers,
        "no headers at all": {"content-type": FORM},
    }[fault]


FAULTS = ["no signature", "non-ASCII signature", "non-numeric timestamp", "signed with another secret",
          "stale timestamp", "no headers at all"]


def post(port: int, body: str, hdrs: dict[str, str]) -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/slack/events", data=body.encode(), headers=hdrs,
                                     method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def refusals(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "refused" in r.getMessage() or "signature" in r.getMessage()]


@pytest.mark.parametrize("fault", FAULTS)
def test_an_unsigned_request_over_http_is_401_and_posts_nothing(serve, ran, slack: MockSlack, caplog, fault) -> None:  # type: ignore[no-untyped-def]
    server = serve()
    caplog.set_level(logging.INFO)
    assert post(server.server_port, BODY, headers(fault)) == 401
    time.sleep(0.3)  # an error handler that (wrongly) ran would have posted by now
    assert ran == []
    assert slack.calls_to("chat.postEphemeral") == [] and slack.calls_to("chat.postMessage") == []
    assert len(refusals(caplog)) == 1 and VICTIM not in caplog.text
    assert post(server.server_port, BODY, sign(BODY, secret=SECRET, content_type=FORM).headers) == 200  # control


@pytest.mark.parametrize("fault", FAULTS)
def test_an_unsigned_request_handed_to_bolt_is_401_too(app: App, ran, slack: MockSlack, caplog, fault) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.INFO)
    hdrs = {k: [v] for k, v in headers(fault).items()}
    assert app.dispatch(BoltRequest(body=BODY, headers=hdrs)).status == 401
    time.sleep(0.3)
    assert ran == [] and slack.calls_to("chat.postEphemeral") == []
    assert len(refusals(caplog)) == 1


@pytest.mark.parametrize(("secret", "hdrs", "body"), [
    ("s", {"x-slack-request-timestamp": "1", "x-slack-signature": "v0=" + "a" * 64}, b"x"),
    ("s", {"x-slack-request-timestamp": "９９", "x-slack-signature": "v0=" + "a" * 64}, b"x"),  # Unicode digits
    ("s", {"x-slack-request-timestamp": "1" * 40, "x-slack-signature": "v0=" + "a" * 64}, b"x"),
    ("s", {"X-Slack-Request-Timestamp": ["0"], "X-Slack-Signature": []}, b"x"),
    ("", {}, b""),
])
def test_the_check_never_raises(secret, hdrs, body) -> None:  # type: ignore[no-untyped-def]
    assert signature_problem(secret, hdrs, body) is not None


def test_a_valid_signature_passes_with_any_header_case() -> None:
    signed = sign("a=b", secret="s3cret", content_type=FORM)
    upper = {k.upper(): v for k, v in signed.headers.items()}
    assert signature_problem("s3cret", upper, b"a=b") is None
    assert signature_problem("s3cret", upper, b"a=c") == "signature mismatch"
