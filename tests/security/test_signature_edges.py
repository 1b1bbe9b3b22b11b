"""Edges of the signature check that mutation testing showed the signature tests left open.

The reason `signature_problem` gives is the only thing logged for a refused request, so each is pinned; the
5-minute window includes its edge (as Slack's own verifier does); the middleware logs that reason and still
lets through what Bolt's own check lets through unsigned (Socket Mode envelopes).
"""

from __future__ import annotations

import hashlib
import hmac
import logging

import pytest
from slack_bolt import BoltRequest, BoltResponse

from bot.slack.verify import MAX_AGE_SECONDS, SafeRequestVerification, signature_problem

SECRET = "s3cr3t"
NOW = 1_790_000_000
BODY = b'{"type":"event_callback"}'


def signed(ts: int, body: bytes = BODY, secret: str = SECRET) -> dict[str, str]:
    mac = hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": f"v0={mac}"}


CASES = {
    "no secret": ("", signed(NOW), "no signing secret configured"),
    "no headers": (SECRET, {}, "missing signature headers"),
    "bad timestamp": (SECRET, {**signed(NOW), "X-Slack-Request-Timestamp": "soon"}, "malformed timestamp"),
    "stale": (SECRET, signed(NOW - MAX_AGE_SECONDS - 1), "stale timestamp"),
    "bad signature": (SECRET, {**signed(NOW), "X-Slack-Signature": "v0=zz"}, "malformed signature"),
    "wrong secret": (SECRET, signed(NOW, secret="other"), "signature mismatch"),
}


@pytest.mark.parametrize(("secret", "headers", "reason"), CASES.values(), ids=CASES.keys())
def test_each_refusal_names_its_reason(secret: str, headers: dict[str, str], reason: str) -> None:
    assert signature_problem(secret, headers, BODY, now=lambda: NOW) == reason


@pytest.mark.parametrize("skew", [MAX_AGE_SECONDS, -MAX_AGE_SECONDS])
def test_the_window_includes_its_edge(skew: int) -> None:
    assert signature_problem(SECRET, signed(NOW - skew), BODY, now=lambda: NOW) is None


def run(request: BoltRequest) -> BoltResponse:
    passed = BoltResponse(status=200, body="passed")
    return SafeRequestVerification(SECRET).process(req=request, resp=BoltResponse(status=200), next=lambda: passed)


def test_a_refusal_logs_its_reason(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="bot.slack.verify"):
        response = run(BoltRequest(body=BODY.decode(), headers={"content-type": "application/json"}))
    assert response.status == 401
    assert [r.getMessage() for r in caplog.records] == ["slack request refused: missing signature headers"]


def test_socket_mode_envelopes_pass_unsigned_as_in_bolt() -> None:
    assert run(BoltRequest(body={"type": "event_callback"}, mode="socket_mode")).body == "passed"
