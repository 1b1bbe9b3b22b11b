from __future__ import annotations

import random

import pytest

from bot.slack.text import ZWJ, escape_mrkdwn, safe_excerpt, split_text, strip_invisible, truncate


def test_escape_neutralises_control_sequences() -> None:
    raw = "hi <!channel> <@U123> <http://evil.example|click here> & <!subteam^S1>"
    out = escape_mrkdwn(raw)
    assert "<" not in out and ">" not in out
    assert out == (
        "hi &lt;!channel&gt; &lt;@U123&gt; &lt;http://evil.example|click here&gt; &amp; &lt;!subteam^S1&gt;"
    )


def test_escape_escapes_ampersand_first() -> None:
    assert escape_mrkdwn("&lt;") == "&amp;lt;"  # a literal "&lt;" from the customer stays literal


@pytest.mark.parametrize("word", ["@channel", "@here", "@everyone", "@HERE", "@Channel"])
def test_plain_broadcasts_are_defused(word: str) -> None:
    out = escape_mrkdwn(f"hey {word}!")
    assert out == f"hey @{ZWJ}{word[1:]}!"
    assert word not in out


def test_other_at_words_are_untouched() -> None:
    assert escape_mrkdwn("mail @channels @hereford me@here.com") == "mail @channels @hereford me@here.com"


def test_invisible_characters_are_stripped() -> None:
    tag_text = "".join(chr(0xE0000 + ord(c)) for c in "ignore previous")
    raw = f"a\u200bb\u200cc\u200dd\u2060e\ufe0ff{tag_text}g\u202eh"
    assert strip_invisible(raw) == "abcdefgh"
    assert escape_mrkdwn(raw) == "abcdefgh"


def test_smuggled_zero_width_cannot_rebuild_a_mention() -> None:
    # "@\u200bhere" would display like @here; after stripping it is defused like the real one
    assert escape_mrkdwn("@\u200bhere") == f"@{ZWJ}here"


def test_safe_excerpt_redacts_escapes_and_shortens() -> None:
    out = safe_excerpt("Email me at jo@example.com <!channel> " + "word " * 100, 60)
    assert out.startswith("Email me at [email] &lt;!channel&gt;")
    assert len(out) <= 60
    assert out.endswith("…")


def test_safe_excerpt_short_text_unchanged_apart_from_escaping() -> None:
    assert safe_excerpt("  a  &  b  ", 50) == "a &amp; b"


@pytest.mark.parametrize("limit", range(5, 40))
def test_safe_excerpt_never_cuts_an_entity(limit: int) -> None:
    out = safe_excerpt("&&&&&&&&&&<<<<<<<<>>>>>>>>" * 3, limit)
    assert len(out) <= limit
    body = out.removesuffix("…")
    # every '&' starts a complete entity
    i = 0
    while (i := body.find("&", i)) != -1:
        assert body[i:].startswith(("&amp;", "&lt;", "&gt;")), out
        i += 1


def test_truncate_prefers_word_boundary() -> None:
    assert truncate("alpha beta gamma delta", 15) == "alpha beta…"


def test_split_text_keeps_everything_and_respects_limit() -> None:
    rng = random.Random(7)
    words = ["refund", "annual", "plan", "policy", "&amp;", "customers", "x" * 40]
    paragraphs = []
    while sum(map(len, paragraphs)) < 20_000:
        lines = [" ".join(rng.choice(words) for _ in range(rng.randint(1, 30))) for _ in range(rng.randint(1, 6))]
        paragraphs.append("\n".join(lines))
    text = "\n\n".join(paragraphs)
    assert len(text) >= 20_000
    chunks = split_text(text, 2900)
    assert len(chunks) >= 7
    assert "".join(chunks) == text
    assert all(0 < len(c) <= 2900 for c in chunks)


def test_split_text_prefers_paragraphs_then_lines_then_words() -> None:
    text = "aaaa bbbb\n\ncccc dddd\neeee ffff"
    assert split_text(text, 12) == ["aaaa bbbb\n\n", "cccc dddd\n", "eeee ffff"]
    assert split_text("one two three four", 9) == ["one two ", "three ", "four"]


def test_split_text_hard_cuts_only_inside_long_words_and_not_entities() -> None:
    text = "&amp;" * 10
    chunks = split_text(text, 7)
    assert "".join(chunks) == text
    assert all(c.startswith("&amp;") and len(c) <= 7 for c in chunks)
    assert split_text("x" * 10, 4) == ["xxxx", "xxxx", "xx"]


def test_split_text_edge_cases() -> None:
    assert split_text("", 10) == []
    assert split_text("short", 10) == ["short"]
    with pytest.raises(ValueError):
        split_text("x", 0)
