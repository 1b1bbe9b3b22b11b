"""Make untrusted text (customer messages, LLM output, article bodies) safe to post as Slack mrkdwn.

Slack's only control characters are `&`, `<` and `>`: every ping (`<!channel>`, `<@U…>`,
`<!subteam^…>`) and every link (`<http://evil|click here>`) needs them, so escaping those three
neutralises injected mentions and disguised links. We also:

* defuse the *plain* words `@channel`, `@here` and `@everyone` by inserting a ZERO WIDTH JOINER
  (U+200D) right after the `@`. The text looks the same to a reader but no longer parses as a
  mention, even if someone later posts it with `link_names` or copies it into a new message.
  We chose the invisible joiner over backticks so customer quotes are not reformatted as code.
* strip invisible characters used to smuggle instructions or spoof text: Unicode tag characters
  (U+E0000–U+E007F), zero-width space/non-joiner/joiner (U+200B–U+200D), word joiner (U+2060),
  variation selectors (U+FE00–U+FE0F), the BOM (U+FEFF) and bidi override/isolate controls
  (U+202A–U+202E, U+2066–U+2069). Stripping happens *before* the defusing step, so our own joiner
  is the only one left in the output.

Pair escaped text with `MarkdownTextObject(verbatim=True)` so Slack does not auto-link URLs or
channel names inside quotes.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from bot.redact import redact as default_redact

ZWJ = "\u200d"
ELLIPSIS = "…"

_INVISIBLE = re.compile(
    "[\U000e0000-\U000e007f\u200b-\u200d\u2060\ufe00-\ufe0f\ufeff\u202a-\u202e\u2066-\u2069]"
)
_BROADCAST = re.compile(r"(?<![\w.+-])@(?=(?:channel|here|everyone)\b)", re.IGNORECASE)
_ENTITY_TAIL = re.compile(r"&[a-z]{0,3}$")  # an entity cut before its ';' (&amp; &lt; &gt;)


def strip_invisible(text: str) -> str:
    return _INVISIBLE.sub("", text)


def escape_mrkdwn(text: str) -> str:
    """Escape untrusted text for a mrkdwn field (see the module docstring for exactly what changes)."""
    text = strip_invisible(text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _BROADCAST.sub("@" + ZWJ, text)


def clean_plain(text: str) -> str:
    """For `plain_text` objects (button labels, option labels, inputs): Slack shows them literally,
    so no entity escaping (it would show `&amp;`), but invisibles go and broadcasts are defused."""
    return _BROADCAST.sub("@" + ZWJ, strip_invisible(text))


def _safe_cut(text: str, end: int) -> int:
    """Move a cut position left so it does not split an `&…;` entity."""
    m = _ENTITY_TAIL.search(text, 0, end)
    if m and m.end() == end and text.find(";", m.start()) >= end:
        return m.start()
    return end


def truncate(text: str, limit: int, *, ellipsis: str = ELLIPSIS) -> str:
    """Shorten already-escaped text to at most `limit` chars, preferring a word boundary, never
    splitting an entity, and always showing the cut with `ellipsis`."""
    if len(text) <= limit:
        return text
    if limit <= len(ellipsis):
        return ellipsis[:limit]
    room = limit - len(ellipsis)
    cut = _safe_cut(text, room)
    space = text.rfind(" ", 0, cut + 1)
    if space > room * 0.6:  # a word boundary not too far back
        cut = space
    return text[:cut].rstrip() + ellipsis


def safe_excerpt(
    text: str,
    limit: int,
    *,
    flatten: bool = True,
    redactor: Callable[[str], str] | None = default_redact,
) -> str:
    """Redact PII → escape for mrkdwn → shorten to `limit` chars with an ellipsis.

    `flatten` collapses all whitespace (an excerpt is one line); `redactor=None` skips redaction.
    The limit applies to the escaped result, which is what Slack counts.
    """
    if redactor is not None:
        text = redactor(text)
    text = escape_mrkdwn(text)
    if flatten:
        text = " ".join(text.split())
    else:
        text = text.strip()
    return truncate(text, limit)


def _break_before(text: str, start: int, end: int) -> int:
    """Best break position in text[start:end] (the chunk is text[start:pos]); separators stay at
    the end of the chunk they close, so joining the chunks gives back the text exactly."""
    window = text[start:end]
    floor = max(1, len(window) // 4)  # don't produce tiny chunks when a better break exists
    for sep in ("\n\n", "\n", " "):
        i = window.rfind(sep)
        if i >= 0 and i + len(sep) > floor:
            return start + i + len(sep)
    for sep in ("\n\n", "\n", " "):  # a small chunk beats a hard cut through a word
        i = window.rfind(sep)
        if i >= 0:
            return start + i + len(sep)
    return _safe_cut(text, end) if _safe_cut(text, end) > start else end


def split_text(text: str, limit: int) -> list[str]:
    """Split `text` into chunks of at most `limit` chars on paragraph, then line, then word
    boundaries (a hard cut only inside a word longer than `limit`, never inside an `&amp;`-style
    entity). Nothing is dropped: `"".join(split_text(t, n)) == t`. Empty text gives `[]`."""
    if limit < 1:
        raise ValueError("limit must be positive")
    chunks: list[str] = []
    start = 0
    while start < len(text):
        if len(text) - start <= limit:
            chunks.append(text[start:])
            break
        pos = _break_before(text, start, start + limit)
        chunks.append(text[start:pos])
        start = pos
    return chunks


# --- Slack's message markup back to what the person wrote ----------------------------------------------
_MARKUP = re.compile(r"<([^<>\n]*)>")
_SLACK_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"))  # the only three Slack escapes; &amp; last


def unescape_slack(text: str) -> str:
    """Undo Slack's `&lt;`, `&gt;` and `&amp;` (and nothing else: `&copy;` typed by a person stays)."""
    for entity, char in _SLACK_ENTITIES:
        text = text.replace(entity, char)
    return text


def _token(inner: str, user_name: Callable[[str], str | None]) -> str:
    target, _, label = inner.partition("|")
    label = unescape_slack(label)
    if target.startswith("@"):  # <@U123> or <@U123|name>
        return "@" + (user_name(target[1:]) or label or target[1:])
    if target.startswith("#"):  # <#C123|general>
        return "#" + (label or target[1:])
    if target.startswith("!"):  # <!here>, <!subteam^S1|@team>, <!date^…|fallback>
        special = target[1:].split("^")[0]
        if special in ("here", "channel", "everyone"):
            return "@" + special
        return label or "@" + special
    url = unescape_slack(target)
    if url.startswith("mailto:"):
        return label or url.removeprefix("mailto:")
    if not label or label == url:
        return url
    return f"[{label}]({url})"  # article bodies are Markdown: the link keeps its label


def decode_message(text: str, *, user_name: Callable[[str], str | None] = lambda _id: None) -> str:
    """A message event's `text` as the person typed it: entities decoded, `<@U…>` mentions resolved to
    `@Name` through `user_name` (None keeps the id), channels as `#name`, links as `url` or `[label](url)`.

    Store this, not the raw markup; escape again only where the text is shown (`escape_mrkdwn`, HTML)."""
    out: list[str] = []
    end = 0
    for m in _MARKUP.finditer(text):
        out.append(unescape_slack(text[end:m.start()]))
        out.append(_token(m.group(1), user_name))
        end = m.end()
    out.append(unescape_slack(text[end:]))
    return "".join(out)
