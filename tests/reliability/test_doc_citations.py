"""docs/RELIABILITY.md names, for each promise, the tests that prove it. Every cited test must exist, so a
moved or renamed test can't leave a promise pointing at nothing."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "RELIABILITY.md"
# `r/test_x.py::test_a`, `tests/y/test_z.py::test_b`, and `::test_c` (same file as the citation before it)
CITATION = re.compile(r"`((?:r|tests)/[\w/]+\.py)?::(test_\w+)`")


def citations(text: str) -> list[tuple[str, str]]:
    out, current = [], None
    for match in CITATION.finditer(text):
        path, name = match.groups()
        if path:
            current = "tests/reliability/" + path[2:] if path.startswith("r/") else path
        assert current, f"::{name} cited before any file"
        out.append((current, name))
    return out


def test_every_cited_test_exists() -> None:
    cited = citations(DOC.read_text(encoding="utf-8"))
    assert len(cited) > 30  # the pattern really matches the doc's citations
    missing = []
    for path, name in cited:
        source = ROOT / path
        if not source.exists() or not re.search(rf"^def {name}\(", source.read_text(encoding="utf-8"), re.M):
            missing.append(f"{path}::{name}")
    assert missing == [], f"docs/RELIABILITY.md cites tests that do not exist: {missing}"


def test_a_missing_citation_is_caught() -> None:
    assert citations("`r/test_auth.py::test_a` and `::test_b`; `tests/x/test_y.py::test_c`") == [
        ("tests/reliability/test_auth.py", "test_a"), ("tests/reliability/test_auth.py", "test_b"),
        ("tests/x/test_y.py", "test_c")]
