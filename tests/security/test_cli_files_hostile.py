"""Hostile files given to `flywheel kb search --conversations FILE.jsonl`: every bad line is reported by number
and the others are still searched; nothing crashes, and a huge line is never read whole."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import bot.cli_kb
from tests.support.cli import cli_env, run

GOOD = {"id": "c1", "messages": [{"role": "user", "text": "When do I get my refund?"}]}


@pytest.fixture
def env(tmp_path, monkeypatch, db_url_engine):  # type: ignore[no-untyped-def]
    folder = cli_env(tmp_path, monkeypatch, db_url_engine) / "kb"
    folder.mkdir()
    (folder / "refunds.md").write_text("# Refund policy\n\nRefunds reach your card within 5 days.\n", encoding="utf-8")
    run("kb", "import", str(folder))
    return tmp_path


def search(path: Path, code: int = 3) -> list[dict[str, object]]:
    output = run("kb", "search", "--conversations", str(path), "--json", code=code)
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_bad_lines_are_reported_and_the_good_ones_searched(env: Path) -> None:
    lines = [b"[" * 100_000, b"42", b'{"id": "x", "messages": "nope"}', b"\xff\xfe\x00binary\x00",
             json.dumps(GOOD).encode(), b'{"id": "c2", "messages": [{"role": "user", "text": "refund?"}]']
    data = env / "convs.jsonl"
    data.write_bytes(b"\n".join(lines) + b"\n")
    rows = search(data)  # before: the nested line raised RecursionError and nothing was searched
    errors = {r["line"]: r["error"] for r in rows if "error" in r}
    assert sorted(errors) == [1, 2, 3, 4, 6]
    assert errors[1] == "invalid JSON (nested too deep)"
    assert "must be a JSON object" in str(errors[2]) and "invalid JSON" in str(errors[4])
    [found] = [r for r in rows if "id" in r]
    assert found["id"] == "c1" and found["line"] == 5 and found["results"][0]["slug"] == "refunds"


def test_a_huge_line_is_refused_without_being_read_whole(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bot.cli_kb, "MAX_LINE_CHARS", 1000)
    data = env / "big.jsonl"
    huge = json.dumps({"id": "big", "messages": [{"role": "user", "text": "refund " * 2000}]})
    data.write_text(huge + "\n" + json.dumps(GOOD) + "\n" + "x" * 5000, encoding="utf-8")  # no final newline
    rows = search(data)
    assert rows[0] == {"line": 1, "error": "line over 1000 characters"}
    assert rows[1]["id"] == "c1" and rows[1]["line"] == 2
    assert rows[2] == {"line": 3, "error": "line over 1000 characters"}
    assert len(rows) == 3


def test_a_binary_file_is_lines_of_errors_not_a_crash(env: Path) -> None:
    data = env / "image.jsonl"
    data.write_bytes(bytes(range(256)) * 64)
    rows = search(data)
    assert rows and all("error" in r for r in rows)
