"""One `requests` session per connector, with explicit timeouts and bounded retries.

- 429: waits `Retry-After` (seconds or an HTTP date), or else until `X-RateLimit-Reset` (Intercom: an epoch
  second), when it is within `max_wait`, else gives up at once with a retryable error (hammering a rate
  limit helps no one); without either header, exponential backoff.
- 5xx, timeouts, dropped connections: exponential backoff, at most `max_retries` times. A request that is
  not idempotent (creating an article) is retried only when it surely was not applied: 503, 429, or a
  connection that never opened; otherwise the error says it may have been applied.
- 401/403/404/other 4xx: no retry; a user-safe message with a hint at the setting to check.
- Redirects are not followed (they could carry the credentials to another host).
- A body is read in pieces, at most `max_response_bytes` (64 MiB) and for at most `body_deadline` seconds in all
  (a server that trickles a byte at a time never trips the per-read timeout): over either, a non-retryable
  error. `Pages` guards a vendor's pagination: a next-page link or cursor seen twice (a loop) or more than
  `MAX_PAGES` pages stop the pass with an error instead of looping for ever.
Logs carry the vendor, method, path and status: never a header, a token, a query or a body.
"""

from __future__ import annotations

import email.utils
import json as _json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from bot.errors import FlywheelError

log = logging.getLogger(__name__)

MAX_RESPONSE_BYTES = 64 * 1024 * 1024
MAX_PAGES = 10_000
_PIECE = 64 * 1024
ErrorFactory = Callable[..., FlywheelError]  # (message, *, retryable) -> the connector's typed error


class SourceError(FlywheelError):
    """A conversation source failed. The cursor was not moved: pulling again is safe."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class Retry:
    max_retries: int = 3
    backoff: float = 0.5  # seconds before the first retry, doubled each time
    max_wait: float = 30.0  # the longest single wait

    @classmethod
    def from_settings(cls, conf: Any) -> Retry:
        return cls(conf.http_max_retries, conf.http_backoff, conf.http_max_wait)


def rate_limit_reset(value: str | None, *, now: float) -> float | None:
    """Seconds to wait from an `X-RateLimit-Reset` header (Intercom: the epoch second the window resets; a
    small number is read as seconds from now); None when absent or bad."""
    try:
        reset = float((value or "").strip())
    except ValueError:
        return None
    if reset != reset or reset < 0 or reset == float("inf"):  # NaN, negative, infinite
        return None
    return reset if reset < 1e9 else max(0.0, reset - now)


def retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date); None when absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class HttpClient:
    def __init__(
        self,
        vendor: str,
        base_url: str,
        *,
        timeout: float,
        error: ErrorFactory,
        retry: Retry = Retry(),
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        hints: Mapping[int, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.time,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        body_deadline: float | None = None,
    ) -> None:
        self.vendor, self.base_url, self.timeout = vendor, base_url.rstrip("/"), timeout
        self.max_response_bytes = max_response_bytes
        self.body_deadline = body_deadline if body_deadline is not None else max(60.0, timeout * 6)
        self.error, self.retry, self.hints, self.sleep, self.clock = error, retry, dict(hints or {}), sleep, clock
        self.session = session or requests.Session()
        self.session.headers.update({"Accept": "application/json", "User-Agent": "flywheel-bot"})
        self.session.headers.update(headers or {})
        if auth is not None:
            self.session.auth = auth

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else self.base_url + path

    def same_origin(self, url: str) -> bool:
        """Credentials are sent only to the configured host (next-page links are checked with this)."""
        a, b = urlsplit(url), urlsplit(self.base_url)
        return (a.scheme, a.netloc) == (b.scheme, b.netloc)

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: bytes | None = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        sign: Callable[[], Mapping[str, str]] | None = None,
        idempotent: bool = True,
        allow: tuple[int, ...] = (),
    ) -> requests.Response:
        """Send with retries; return a 2xx response (or one whose status is in `allow`), else raise."""
        url = self.url(path)
        where = f"{method} {urlsplit(url).path}"
        attempt = 0
        while True:
            extra = {**(headers or {}), **(sign() if sign else {})}  # re-signed on every attempt
            try:
                resp = self.session.request(method, url, json=json, data=data, params=params, headers=extra,
                                            timeout=self.timeout, allow_redirects=False, stream=True)
                self._load(resp, where)
            except requests.ConnectTimeout:
                self._again(attempt, None, f"{self.vendor} could not be reached within {self.timeout:g} s.", where)
            except (requests.Timeout, requests.ConnectionError) as exc:
                timed_out = isinstance(exc, requests.Timeout)
                what = (f"{self.vendor} did not answer within {self.timeout:g} s." if timed_out
                        else f"The connection to {self.vendor} failed ({type(exc).__name__}).")
                if not idempotent:
                    raise self.error(f"{what} The change may have been applied: check {self.vendor} before "
                                     "trying again.", retryable=True) from None
                self._again(attempt, None, what, where)
            except requests.RequestException as exc:
                raise self.error(f"Could not send the request to {self.vendor} ({type(exc).__name__}); check "
                                 "its URL setting.", retryable=False) from None
            else:
                status = resp.status_code
                if 200 <= status < 300 or status in allow:
                    return resp
                if status == 429 or status == 503 or (status >= 500 and idempotent):
                    wait = retry_after(resp.headers.get("Retry-After"), now=self.clock())
                    if wait is None and status == 429:  # Intercom: when the rate-limit window resets
                        wait = rate_limit_reset(resp.headers.get("X-RateLimit-Reset"), now=self.clock())
                    busy = "is rate limiting Flywheel" if status == 429 else "is failing"
                    self._again(attempt, wait, f"{self.vendor} {busy} (HTTP {status}); try again later.", where)
                else:
                    raise self._refused(status, resp, where)
            attempt += 1

    def _load(self, resp: requests.Response, where: str) -> None:
        """Read the body (see the module's docstring); over the size or the time bound, close and raise."""
        cap, started = self.max_response_bytes, time.monotonic()
        declared = resp.headers.get("Content-Length", "")
        pieces, total = [], 0
        if not (declared.isdigit() and int(declared) > cap):
            for piece in resp.iter_content(_PIECE):
                total += len(piece)
                if total > cap:
                    break
                if time.monotonic() - started > self.body_deadline:
                    resp.close()
                    log.warning("%s %s: the answer took over %.0f s; stopped", self.vendor, where, self.body_deadline)
                    raise self.error(f"{self.vendor} took too long to send its answer; try again later.",
                                     retryable=True)
                pieces.append(piece)
        if total > cap or (declared.isdigit() and int(declared) > cap):
            resp.close()
            log.warning("%s %s: the answer is over %d bytes; stopped", self.vendor, where, cap)
            raise self.error(f"{self.vendor} sent an answer over {cap} bytes; Flywheel stopped reading it.",
                             retryable=False)
        resp._content = b"".join(pieces)  # what `resp.json()` and `resp.text` read
        resp._content_consumed = True  # type: ignore[attr-defined]

    def _again(self, attempt: int, wait: float | None, message: str, where: str) -> None:
        """Sleep before the next attempt, or raise a retryable error when the bound is reached."""
        if wait is None:
            wait = min(self.retry.backoff * 2**attempt, self.retry.max_wait)
        elif wait > self.retry.max_wait:
            log.warning("%s %s asks to wait %.0f s, above the bound; giving up", self.vendor, where, wait)
            raise self.error(f"{message} ({self.vendor} asks to wait {wait:.0f} s.)", retryable=True)
        if attempt >= self.retry.max_retries:
            log.warning("%s %s failed after %d attempts", self.vendor, where, attempt + 1)
            raise self.error(message, retryable=True)
        log.info("%s %s: retry %d in %.1f s", self.vendor, where, attempt + 1, wait)
        self.sleep(wait)

    def _refused(self, status: int, resp: requests.Response, where: str) -> FlywheelError:
        log.warning("%s %s answered HTTP %d", self.vendor, where, status)
        hint = f" {self.hints[status]}" if self.hints.get(status) else ""
        if status in (401, 403):
            return self.error(f"{self.vendor} refused Flywheel's credentials (HTTP {status}).{hint}", retryable=False)
        if 300 <= status < 400:  # a redirect could carry the credentials to another host: never followed
            return self.error(f"{self.vendor} answered a redirect (HTTP {status}); Flywheel does not follow "
                              f"redirects: configure the final URL.{hint}", retryable=False)
        if status == 404:
            return self.error(f"{self.vendor} answered 404 Not Found for {where}.{hint}", retryable=False)
        if status >= 500:
            return self.error(f"{self.vendor} failed (HTTP {status}); the change may have been applied: check "
                              f"{self.vendor} before trying again.", retryable=True)
        return self.error(f"{self.vendor} rejected the request (HTTP {status}{_code(resp)}).{hint}", retryable=False)

    def json(self, resp: requests.Response) -> dict[str, Any]:
        try:  # invalid UTF-8 (one bad byte in one article) is replaced, not a reason to stop a whole pass
            body = _json.loads(resp.content.decode("utf-8", "replace").removeprefix("\ufeff"))
        except (ValueError, RecursionError):
            body = None
        if not isinstance(body, dict):
            raise self.error(f"{self.vendor} answered HTTP {resp.status_code} without a JSON object.",
                             retryable=False)
        return body


class Pages:
    """A vendor's pagination, followed safely: `follow(token)` before each next page (a link, a cursor, a page
    token); one already followed (a loop: `next_page` pointing back) or more than `limit` pages raise the
    connector's error instead of paging for ever."""

    def __init__(self, vendor: str, error: ErrorFactory, *, limit: int = MAX_PAGES) -> None:
        self.vendor, self.error, self.limit, self.seen = vendor, error, limit, set[str]()

    def follow(self, token: object) -> None:
        key = token if isinstance(token, str) else _json.dumps(token, sort_keys=True, default=str)
        if key in self.seen:
            log.warning("%s sent a next page already read; stopped", self.vendor)
            raise self.error(f"{self.vendor} sent a next-page link already read (a pagination loop); stopped.",
                             retryable=False)
        if len(self.seen) >= self.limit:
            raise self.error(f"{self.vendor} sent more than {self.limit} pages; stopped.", retryable=False)
        self.seen.add(key)


def _code(resp: requests.Response) -> str:
    """A vendor's short error code (e.g. RecordInvalid) is safe to show; descriptions may echo content."""
    try:
        body = resp.json()
    except ValueError:
        return ""
    code = body.get("error") if isinstance(body, dict) else None
    if isinstance(code, dict):
        code = code.get("title") or code.get("code")
    if code is None and isinstance(body, dict) and isinstance(body.get("errors"), list) and body["errors"]:
        first = body["errors"][0]
        code = first.get("code") if isinstance(first, dict) else None
    return f": {code}" if isinstance(code, str) and code.replace("_", "").replace(".", "").isalnum() \
        and len(code) <= 40 else ""
