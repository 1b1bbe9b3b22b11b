"""Slack request signatures (v0), checked so that no input can make the check itself fail.

`signature_problem` answers why a request is not Slack's (or None): a missing or malformed header, a
timestamp outside Slack's 5-minute window, or a signature that does not match the raw body. It never
raises: slack_sdk's verifier raises on a non-ASCII signature or a non-numeric timestamp, and Bolt then
treats the unsigned request as a listener error (HTTP 500, and an ephemeral error posted to a channel
and user named in the forged body).

`SafeRequestVerification` puts the same check in place of Bolt's own verification middleware, for
requests handed to `app.dispatch` without going through the HTTP edge (`bot/server.py` checks first).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence

from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.middleware.request_verification import RequestVerification

log = logging.getLogger(__name__)

MAX_AGE_SECONDS = 300  # Slack's window: older (or that far in the future) is a replay
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")


def _first(headers: Mapping[str, str | Sequence[str]], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            if isinstance(value, str):
                return value
            return value[0] if value else None
    return None


def signature_problem(secret: str, headers: Mapping[str, str | Sequence[str]], body: bytes | str, *,
                      now: Callable[[], float] = time.time) -> str | None:
    """Why this request does not carry Slack's signature (a short reason, safe to log), or None if it does."""
    if not secret:
        return "no signing secret configured"
    timestamp = _first(headers, "x-slack-request-timestamp")
    signature = _first(headers, "x-slack-signature")
    if not timestamp or not signature:
        return "missing signature headers"
    if not _TIMESTAMP.fullmatch(timestamp.strip()):
        return "malformed timestamp"
    if abs(now() - int(timestamp)) > MAX_AGE_SECONDS:
        return "stale timestamp"
    if not _SIGNATURE.fullmatch(signature.strip()):
        return "malformed signature"
    raw = body.encode("utf-8") if isinstance(body, str) else body
    expected = hmac.new(secret.encode("utf-8"), b"v0:" + timestamp.strip().encode("ascii") + b":" + raw,
                        hashlib.sha256).hexdigest()
    if not hmac.compare_digest(f"v0={expected}".encode("ascii"), signature.strip().encode("ascii")):
        return "signature mismatch"
    return None


class SafeRequestVerification(RequestVerification):
    """Bolt's verification middleware with `signature_problem`: 401 and one log line for any failure."""

    def __init__(self, signing_secret: str) -> None:
        super().__init__(signing_secret)
        self._secret = signing_secret

    def process(self, *, req: BoltRequest, resp: BoltResponse,  # noqa: A002 - Bolt's names
                next: Callable[[], BoltResponse]) -> BoltResponse:
        if self._can_skip(req.mode, req.body):
            return next()
        problem = signature_problem(self._secret, req.headers, req.raw_body)
        if problem is None:
            return next()
        log.warning("slack request refused: %s", problem)
        return self._build_error_response()


def harden_verification(app: App) -> None:
    """Swap Bolt's verification middleware for `SafeRequestVerification` (same place in the chain)."""
    chain = app._middleware_list  # noqa: SLF001 - Bolt offers no public way to replace a built-in
    for i, middleware in enumerate(chain):
        if type(middleware) is RequestVerification:
            chain[i] = SafeRequestVerification(middleware._signing_secret)  # noqa: SLF001
