"""The bundled demo data (bot/demo_data/, built by scripts/build_demo_data.py from MTRAG's govt tasks)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from bot.domain import Role
from bot.llm.offline import MATCH_COVERED
from bot.text import coverage

DEMO = Path(__file__).resolve().parents[1] / "bot" / "demo_data"
ROLES = {r.value for r in Role}


def _conversations() -> list[dict]:
    lines = (DEMO / "conversations.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _front_matter(path: Path) -> tuple[dict, str, str]:
    text = path.read_text(encoding="utf-8")
    assert text.startswith("---\n"), f"{path.name}: no front matter"
    head, sep, body = text[4:].partition("\n---\n")
    assert sep, f"{path.name}: front matter never ends"
    meta = yaml.safe_load(head)
    assert isinstance(meta, dict), f"{path.name}: front matter is not a mapping"
    return meta, head, body.strip()


def _kb() -> list[tuple[Path, dict, str, str]]:
    return [(p, *_front_matter(p)) for p in sorted((DEMO / "kb").glob("*.md"))]


def _gaps() -> list[dict]:
    return json.loads((DEMO / "gaps.json").read_text(encoding="utf-8"))


def test_bundled_files_exist() -> None:
    for name in ("conversations.jsonl", "gaps.json", "SOURCE.md", "LICENSE-MTRAG.txt"):
        assert (DEMO / name).is_file(), name
    assert len(list((DEMO / "kb").glob("*.md"))) >= 10


def test_conversations_parse_with_valid_roles() -> None:
    conversations = _conversations()
    assert 30 <= len(conversations) <= 60
    ids = [c["id"] for c in conversations]
    assert len(ids) == len(set(ids))
    for conv in conversations:
        assert isinstance(conv["id"], str) and conv["id"].startswith("mtrag-")
        assert conv["metadata"]["collection"] == "govt"
        messages = conv["messages"]
        assert messages and isinstance(messages, list)
        assert messages[0]["role"] == "user"
        for message in messages:
            assert message["role"] in ROLES, (conv["id"], message["role"])
            assert isinstance(message["text"], str) and message["text"].strip()
            assert isinstance(message["timestamp"], str)
        stamps = [m["timestamp"] for m in messages]
        assert stamps == sorted(stamps), conv["id"]


def test_kb_files_have_front_matter_with_title() -> None:
    slugs = set()
    for path, meta, _, body in _kb():
        assert isinstance(meta.get("title"), str) and meta["title"].strip(), path.name
        assert meta.get("tags") == ["govt"], path.name
        assert str(meta.get("source", "")).startswith("MTRAG govt document "), path.name
        assert body, path.name
        slugs.add(meta["slug"])
    assert len(slugs) == len(_kb())


def test_total_size_is_small() -> None:
    total = sum(p.stat().st_size for p in DEMO.rglob("*") if p.is_file())
    assert total < 600_000, total


def test_exactly_three_gap_conversations_listed_in_gaps_json() -> None:
    gap_convs = {c["id"]: c for c in _conversations() if c["metadata"].get("demo_gap")}
    gaps = _gaps()
    assert len(gap_convs) == 3
    assert {g["conversation_id"] for g in gaps} == set(gap_convs)
    for gap in gaps:
        conv = gap_convs[gap["conversation_id"]]
        meta = conv["metadata"]
        assert (meta["escalated"], meta["resolved"], meta["csat"]) == (True, False, 2)
        roles = [m["role"] for m in conv["messages"]]
        assert roles[-2:] == ["agent", "human"]
        assert conv["messages"][-1]["text"] == gap["reference_answer"]
        assert [m for m in conv["messages"] if m["role"] == "user"][-1]["text"] == gap["question"]
        assert gap["gold_passages"] and all(p["document_id"] and p["text"] for p in gap["gold_passages"])


def test_gap_passages_are_not_in_the_kb() -> None:
    heads = [head for _, _, head, _ in _kb()]
    bodies = [body for _, _, _, body in _kb()]
    for gap in _gaps():
        for passage in gap["gold_passages"]:
            assert not any(passage["document_id"] in head for head in heads), passage["document_id"]
            assert passage["text"] not in bodies


@pytest.mark.parametrize("index", [0, 1, 2])
def test_gap_is_real_and_closable_for_the_offline_agent(index: int) -> None:
    """No kb article lets the offline agent answer; an article holding the reference answer would."""
    gap = _gaps()[index]
    question = gap["question"]
    best = max(coverage(question, f"{meta['title']} {body}") for _, meta, _, body in _kb())
    assert best < MATCH_COVERED, (gap["conversation_id"], best)
    assert coverage(question, gap["reference_answer"]) >= MATCH_COVERED


def test_source_md_attributes_and_states_the_license() -> None:
    source = (DEMO / "SOURCE.md").read_text(encoding="utf-8")
    assert "Apache License, Version 2.0" in source
    assert "github.com/IBM/mt-rag-benchmark" in source
    assert "scripts/build_demo_data.py" in source
    assert "government" in source
    notice = (DEMO / "LICENSE-MTRAG.txt").read_text(encoding="utf-8")
    assert "Apache License" in notice and "IBM" in notice
