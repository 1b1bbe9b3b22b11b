"""Markdown → safe HTML for knowledge bases that store HTML (Zendesk, Intercom).

Deliberately small: headings, paragraphs, bullet and numbered lists, fenced code, `code`, **bold**,
*italic* and [links](https://…). Every character of the input is HTML-escaped first, so no tag or
attribute in the Markdown survives; links keep only http(s), mailto and relative targets. As in CommonMark,
an entity reference written in the text (`&gt;`, `&amp;`, `&#8212;`) stays an entity: it is escaped once,
never into `&amp;gt;` (code spans and blocks show it literally).
"""

from __future__ import annotations

import html
import html.entities
import re

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_BULLET = re.compile(r"^\s*[-*+]\s+(.*)$")
_NUMBERED = re.compile(r"^\s*\d{1,9}[.)]\s+(.*)$")
_LINK = re.compile(r"\[([^\]\n]+)\]\(([^)\s]+)\)")
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_ITALIC = re.compile(r"(?<![*\w])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![*\w])")
_SAFE_PREFIXES = ("http://", "https://", "mailto:", "/", "#")
_ESCAPED_ENTITY = re.compile(r"&amp;(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")


def _keep_entity(match: re.Match[str]) -> str:
    name = match.group(1)
    return f"&{name};" if name.startswith("#") or f"{name};" in html.entities.html5 else match.group(0)


def _safe_href(escaped_url: str) -> str | None:
    url = html.unescape(escaped_url)
    if url.lower().startswith(_SAFE_PREFIXES) or ":" not in url:
        return html.escape(url, quote=True)
    return None


def _link(match: re.Match[str]) -> str:
    text, href = match.group(1), _safe_href(match.group(2))
    return f'<a href="{href}">{text}</a>' if href else text


def inline(text: str) -> str:
    """One line of Markdown → HTML; code spans are left exactly as written (escaped)."""
    parts = text.split("`")
    if len(parts) % 2 == 0:  # an unmatched backtick is just a character
        parts[-2:] = [parts[-2] + "`" + parts[-1]]
    out = []
    for i, part in enumerate(parts):
        escaped = html.escape(part, quote=True)
        if i % 2:
            out.append(f"<code>{escaped}</code>")
        else:
            escaped = _ESCAPED_ENTITY.sub(_keep_entity, escaped)  # "&gt;" as written: one escape, not two
            escaped = _LINK.sub(_link, escaped)
            escaped = _BOLD.sub(r"<strong>\1</strong>", escaped)
            out.append(_ITALIC.sub(r"<em>\1</em>", escaped))
    return "".join(out)


def markdown_to_html(text: str) -> str:
    out: list[str] = []
    paragraph: list[str] = []
    list_tag: str | None = None
    code: list[str] | None = None

    def close() -> None:
        nonlocal list_tag
        if paragraph:
            out.append("<p>" + "<br>\n".join(inline(line.strip()) for line in paragraph) + "</p>")
            paragraph.clear()
        if list_tag:
            out.append(f"</{list_tag}>")
            list_tag = None

    for line in text.replace("\r\n", "\n").split("\n"):
        if code is not None:
            if line.strip().startswith("```"):
                out.append("<pre><code>" + html.escape("\n".join(code)) + "</code></pre>")
                code = None
            else:
                code.append(line)
            continue
        if line.strip().startswith("```"):
            close()
            code = []
            continue
        if not line.strip():
            close()
            continue
        heading = _HEADING.match(line)
        item = _BULLET.match(line) or _NUMBERED.match(line)
        if heading:
            close()
            level = len(heading.group(1))
            out.append(f"<h{level}>{inline(heading.group(2))}</h{level}>")
        elif item:
            tag = "ul" if _BULLET.match(line) else "ol"
            if paragraph or list_tag != tag:
                close()
                out.append(f"<{tag}>")
                list_tag = tag
            out.append(f"<li>{inline(item.group(1).strip())}</li>")
        elif list_tag and line.startswith((" ", "\t")):  # a continuation of the last item
            out[-1] = out[-1][: -len("</li>")] + " " + inline(line.strip()) + "</li>"
        else:
            if list_tag:
                close()
            paragraph.append(line)
    if code is not None:  # an unterminated fence: keep the text
        out.append("<pre><code>" + html.escape("\n".join(code)) + "</code></pre>")
    close()
    return "\n".join(out)
