"""A plain HTTP client for tests of a running server (`bot.server.make_server` on 127.0.0.1)."""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any


def http(url: str, *, body: str | None = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """(status, body text) of a GET, or of a POST when `body` is given; an HTTP error status is returned too."""
    request = urllib.request.Request(url, data=body.encode() if body is not None else None, headers=headers or {},
                                     method="POST" if body is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
