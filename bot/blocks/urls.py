"""The one check every link Flywheel puts in Slack goes through: a button's `url` or a `<url|label>` in mrkdwn.

Slack refuses a whole message (`invalid_blocks`) over one button whose `url` it cannot take, and a `<url|label>`
is only as honest as its URL. Links come from places people outside the team control (a help centre's article
link, a conversation's metadata), so `safe_url` gives back a URL only when it is a plain http(s) URL with a real
host, at most `URL_MAX` characters, nothing Slack's link syntax gives a meaning to (`<`, `>`, `|`), no
whitespace, control or invisible characters, and no user info before the host (`https://help.acme.com@evil.test`
opens evil.test). A non-ASCII host is given in its ASCII (punycode) form, as browsers show it; non-ASCII in the
path is percent-encoded. Anything else gives None: the caller leaves the link (or the button) out.

`public=True` also refuses hosts that are not on the public internet: an internal, loopback or link-local address
(`http://169.254.169.254/`, `http://[::1]/`, `http://2130706433/`, which browsers read as 127.0.0.1), `localhost`,
a name without a dot, `.local`/`.internal` names. For links from a help centre ("Open the article"): an article's
public page is never there, and a click would make the reader's browser call a service inside the network.
Links the team configured itself (`FLYWHEEL_CONVERSATION_URL_TEMPLATE`) may point inside and are not checked so.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import quote, urlsplit, urlunsplit

URL_MAX = 3000  # Block Kit: a button's url
_REFUSED = re.compile(r"[\s<>|\"`\\^{}\x00-\x1f\x7f-\x9f\u00ad\u061c\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff]")
_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
_NUMERIC = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)$")  # a last label browsers read as an IPv4 address
_PRIVATE_NAMES = ("localhost", ".localhost", ".local", ".internal", ".lan", ".home.arpa", ".intranet", ".corp")


def _host(hostname: str) -> str | None:
    """The host in ASCII (IDNA), or None when it is no host name or IP literal."""
    if hostname.startswith("["):
        try:
            return f"[{ipaddress.IPv6Address(hostname[1:-1]).compressed}]" if hostname.endswith("]") else None
        except ValueError:
            return None
    try:
        ascii_host = hostname.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None
    labels = ascii_host.rstrip(".").split(".")
    if len(ascii_host) > 253 or not all(_LABEL.match(label) for label in labels):
        return None
    return ascii_host


def _is_public(host: str) -> bool:
    name = host.strip("[]").rstrip(".")
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        last = name.rsplit(".", 1)[-1]
        return "." in name and not _NUMERIC.match(last) and not name.endswith(_PRIVATE_NAMES)
    mapped = getattr(address, "ipv4_mapped", None)
    return bool((mapped or address).is_global)


def safe_url(url: str | None, *, public: bool = False, limit: int = URL_MAX) -> str | None:
    """`url` as Slack should get it (see the module docstring), or None: leave the link out."""
    if not isinstance(url, str) or not url or len(url) > limit * 3 or _REFUSED.search(url):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # a bad port, a broken IPv6 literal
        return None
    if parts.scheme.lower() not in ("http", "https") or not url[len(parts.scheme):].startswith("://"):
        return None
    netloc = parts.netloc
    if "@" in netloc or not parts.hostname:
        return None
    bracketed = netloc.startswith("[")
    host = _host(netloc[: netloc.index("]") + 1] if bracketed else parts.hostname)
    if host is None or port == 0 or (public and not _is_public(host)):
        return None
    netloc = host if port is None else f"{host}:{port}"
    encode = "/%:@!$&'()*+,;=-._~?#[]"
    clean = urlunsplit((parts.scheme.lower(), netloc, quote(parts.path, safe=encode), quote(parts.query, safe=encode),
                        quote(parts.fragment, safe=encode)))
    return clean if len(clean) <= limit else None
