"""Markdown → HTML escapes once: an entity written in the text (legacy notes stored as Slack sent them, or an
author's `&mdash;`) means its character (CommonMark), never `&amp;gt;`; anything else is still escaped."""

from __future__ import annotations

from bot.integrations.html import markdown_to_html


def test_entities_in_text_are_escaped_once() -> None:
    assert markdown_to_html("Settings &gt; Billing &amp; Plans &#8212; &#x2014; &mdash;") == \
        "<p>Settings &gt; Billing &amp; Plans \u2014 \u2014 \u2014</p>"
    assert markdown_to_html("Settings > Billing & Plans, 3 < 5") == "<p>Settings &gt; Billing &amp; Plans, 3 &lt; 5</p>"
    assert markdown_to_html("AT&T &bogus; &amp") == "<p>AT&amp;T &amp;bogus; &amp;amp</p>"  # not entities
    assert markdown_to_html("- a &lt;b&gt;\n## x &amp; y") == "<ul>\n<li>a &lt;b&gt;</li>\n</ul>\n<h2>x &amp; y</h2>"


def test_code_shows_entities_literally_and_links_stay_safe() -> None:
    assert markdown_to_html("`&amp;`") == "<p><code>&amp;amp;</code></p>"
    assert markdown_to_html("```\n&gt;\n```") == "<pre><code>&amp;gt;\n</code></pre>"
    assert '<a href="https://x.test/?a=1&amp;b=2">guide</a>' in markdown_to_html("[guide](https://x.test/?a=1&amp;b=2)")
    assert "href" not in markdown_to_html("[j](&#x6a;avascript:alert&#40;1&#41;)")  # an encoded scheme is no link
    assert "<script" not in markdown_to_html("&lt;script&gt;alert(1)&lt;/script&gt;")
