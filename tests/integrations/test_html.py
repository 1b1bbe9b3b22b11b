"""Markdown → HTML for Zendesk and Intercom: structure kept, nothing executable let through."""

from __future__ import annotations

import pytest

from bot.integrations.html import markdown_to_html


def test_structure() -> None:
    html = markdown_to_html("## Refunds\n\nThey take **5** days,\n*usually*.\n\n- card\n- store `credit`\n\n"
                            "1. Return it\n2. Wait\n\nSee [the policy](https://acme.test/p?a=1&b=2).")
    assert html.split("\n") == [
        "<h2>Refunds</h2>", "<p>They take <strong>5</strong> days,<br />", "<em>usually</em>.</p>",
        "<ul>", "<li>card</li>", "<li>store <code>credit</code></li>", "</ul>",
        "<ol>", "<li>Return it</li>", "<li>Wait</li>", "</ol>",
        '<p>See <a href="https://acme.test/p?a=1&amp;b=2">the policy</a>.</p>']


def test_tables_images_and_emphasis_are_kept() -> None:
    html = markdown_to_html("| plan | days |\n|---|---|\n| *basic* | **5** |\n\n"
                            "![card](https://acme.test/c.png) ~~old~~")
    assert "<table>" in html and "<th>plan</th>" in html and "<td><em>basic</em></td>" in html
    assert "<td><strong>5</strong></td>" in html and '<img src="https://acme.test/c.png" alt="card" />' in html
    assert "<s>old</s>" in html
    assert "<img" not in markdown_to_html("![x](javascript:alert(1)) ![y](//evil.test/a.png)")


@pytest.mark.parametrize("source, forbidden", [
    ("<script>alert(1)</script>", "<script"),
    ("<img src=x onerror=alert(1)>", "<img"),
    ("[click](javascript:alert(1))", "javascript:"),
    ("[click](JaVaScRiPt:alert(1))", "href"),
    ("[x](data:text/html;base64,AAAA)", "data:"),
    ('[x](https://a.test/"onmouseover="alert(1))', '"onmouseover'),
    ("```\n</code><script>x</script>\n```", "<script"),
    ("`</code><b>`", "<b>"),
])
def test_nothing_executable_survives(source: str, forbidden: str) -> None:
    assert forbidden not in markdown_to_html(source)


def test_safe_links_and_code_are_kept() -> None:
    assert '<a href="mailto:help@acme.test">mail</a>' in markdown_to_html("[mail](mailto:help@acme.test)")
    assert '<a href="/hc/refunds">here</a>' in markdown_to_html("[here](/hc/refunds)")
    assert '<pre><code class="language-python">a &lt; b\n  c\n</code></pre>' in \
        markdown_to_html("```python\na < b\n  c\n```")


def test_every_connector_setting_is_documented() -> None:
    """docs/INTEGRATIONS.md cannot drift from the settings class."""
    from pathlib import Path

    from bot.integrations.settings import IntegrationSettings

    docs = (Path(__file__).parents[2] / "docs" / "INTEGRATIONS.md").read_text(encoding="utf-8")
    missing = [f"FLYWHEEL_{name.upper()}" for name in IntegrationSettings.model_fields
               if f"| `FLYWHEEL_{name.upper()}` |" not in docs]
    assert missing == []
