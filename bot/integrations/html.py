"""Markdown ↔ HTML for knowledge bases that store HTML (Zendesk, Intercom), through well-kept libraries.

- `markdown_to_html`: markdown-it-py (CommonMark, plus GFM tables and strikethrough; single newlines are
  line breaks). Raw HTML in the Markdown is escaped, never passed through; links keep only http(s), mailto,
  relative and `#` targets (any other scheme, even entity-encoded, leaves the text without a link); images
  keep only http(s) and relative sources. Entities written in the text are read as CommonMark reads them.
- `html_to_markdown`: markdownify (over BeautifulSoup) for articles synced from a help centre: headings,
  lists, emphasis, links, images and tables become Markdown, not tags shown as text; scripts, styles and
  embedded frames are dropped with their content; links and images keep only the targets `markdown_to_html`
  keeps (a `javascript:` link becomes its text, a `data:` image its alt text), so the KB, the agent's context
  and a later publish never carry them; tags nested deeper than `MAX_DEPTH` become their text (a hostile
  page of 500 nested `<div>`s used to raise RecursionError and stop the whole sync); an article's HTML over
  `MAX_HTML_CHARS` converts to nothing (a 4 MB article took ~6 s; the sync skips it and names it in its report).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from bs4 import BeautifulSoup
from bs4.element import NavigableString, Tag
from markdown_it import MarkdownIt
from markdownify import MarkdownConverter

_SAFE_LINK = re.compile(r"^(https?://|mailto:|/|#)", re.IGNORECASE)
_SAFE_IMAGE = re.compile(r"^(https?://|/)", re.IGNORECASE)
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)
_DROPPED = ("script", "style", "iframe", "object", "embed", "noscript", "template")
MAX_DEPTH = 40  # deeper tags become their text: markdownify recurses a few frames per level
MAX_HTML_CHARS = 512 * 1024  # an article's HTML; larger converts to "" (~0.7 s at the cap, 1.4 s a MB)


def _safe(url: str, pattern: re.Pattern[str]) -> bool:
    cleaned = re.sub(r"[\x00-\x20]", "", url)
    return bool(pattern.match(cleaned)) or not _SCHEME.match(cleaned)


def _renderer() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "breaks": True, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    md.validateLink = lambda url: True  # type: ignore[method-assign]  # checked when rendered, below
    hidden: set[int] = set()

    def link_open(renderer: Any, tokens: Sequence[Any], idx: int, options: Any, env: Any) -> str:
        token = tokens[idx]
        if not _safe(str(token.attrGet("href") or ""), _SAFE_LINK):
            level = token.level
            close = next(i for i in range(idx + 1, len(tokens))
                         if tokens[i].type == "link_close" and tokens[i].level == level)
            hidden.add(id(tokens[close]))
            return ""
        return str(renderer.renderToken(tokens, idx, options, env))

    def link_close(renderer: Any, tokens: Sequence[Any], idx: int, options: Any, env: Any) -> str:
        if id(tokens[idx]) in hidden:
            hidden.discard(id(tokens[idx]))
            return ""
        return str(renderer.renderToken(tokens, idx, options, env))

    default_image = md.renderer.rules["image"]  # type: ignore[attr-defined]

    def image(renderer: Any, tokens: Sequence[Any], idx: int, options: Any, env: Any) -> str:
        token = tokens[idx]
        src = str(token.attrGet("src") or "")
        if src.startswith("//") or not _safe(src, _SAFE_IMAGE):
            return str(renderer.renderInlineAsText(token.children or [], options, env))
        return str(default_image(tokens, idx, options, env))

    md.add_render_rule("link_open", link_open)
    md.add_render_rule("link_close", link_close)
    md.add_render_rule("image", image)
    return md


_MD = _renderer()


def markdown_to_html(text: str) -> str:
    """Markdown → HTML safe to store in a help centre (see the module's docstring)."""
    return str(_MD.render(text.replace("\r\n", "\n"))).strip()


class _Converter(MarkdownConverter):
    def convert_a(self, el: Any, text: str, parent_tags: Any) -> str:
        if not _safe(str(el.get("href") or ""), _SAFE_LINK):
            return text
        return str(super().convert_a(el, text, parent_tags))  # type: ignore[misc]

    def convert_img(self, el: Any, text: str, parent_tags: Any) -> str:
        src = str(el.get("src") or "")
        if src.startswith("//") or not _safe(src, _SAFE_IMAGE):
            return str(el.get("alt") or "")
        return str(super().convert_img(el, text, parent_tags))  # type: ignore[misc]


def _flatten(soup: BeautifulSoup, limit: int = MAX_DEPTH) -> None:
    """Tags deeper than `limit` become their text (without recursion: get_text walks the tree in a loop)."""
    stack: list[tuple[Tag, int]] = [(soup, 0)]
    while stack:
        node, depth = stack.pop()
        for child in list(node.children):
            if not isinstance(child, Tag):
                continue
            if depth >= limit:
                child.replace_with(NavigableString(child.get_text(" ")))
            else:
                stack.append((child, depth + 1))


def too_large(html: object) -> bool:
    """HTML that `html_to_markdown` does not convert (over `MAX_HTML_CHARS`): the sync skips its article."""
    return isinstance(html, str) and len(html) > MAX_HTML_CHARS


def html_to_markdown(html: object) -> str:
    """A help centre's article HTML → Markdown (see the module's docstring)."""
    if not isinstance(html, str) or not html.strip():  # a vendor may send null, a number, a list
        return ""
    if too_large(html):
        return ""
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup.find_all(list(_DROPPED)):
        tag.decompose()
    _flatten(soup)
    text = _Converter(heading_style="ATX", bullets="-", strong_em_symbol="*", escape_misc=False).convert_soup(soup)
    text = re.sub(r"[ \t]+\n", "\n", str(text))
    return re.sub(r"\n{3,}", "\n\n", text).strip()
