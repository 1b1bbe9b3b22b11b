"""`flywheel eval` on a small MTRAG-format file: the offline provider must detect and fix every gap,
never pass an unanswerable question, and honour --tasks and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app

runner = CliRunner()

REFUND = "Refunds to a credit card arrive within five business days after the returned item is received."
PASSPORT = "To renew a passport by mail, send form DS-82 with your old passport and a new photo to the agency."
MUSEUM = "The city museum opens every day from nine to five, and entrance is free on Sundays."


def task(task_id: str, turns: list[tuple[str, str]], passages: list[tuple[str, str]], answer: str,
         answerability: str = "ANSWERABLE") -> dict:
    return {
        "task_id": task_id, "conversation_id": task_id.split("<")[0], "Collection": "test",
        "input": [{"speaker": s, "text": t, "metadata": {}} for s, t in turns],
        "contexts": [{"document_id": d, "text": t} for d, t in passages],
        "targets": [{"speaker": "agent", "text": answer}],
        "answerability": [answerability],
    }


TASKS = [
    task("refund<::>1", [("user", "How long does a refund to my credit card take?")], [("doc-refund", REFUND)],
         REFUND),
    task("passport<::>3", [("user", "Hi, I have a question about passports."),
                           ("agent", "Sure, what would you like to know?"),
                           ("user", "How do I renew my passport by mail?")],
         [("doc-passport", PASSPORT), ("doc-photo", "Passport photos must be in color and taken recently.")],
         "To renew your passport by mail, send form DS-82, your old passport and a new photo to the agency."),
    task("museum<::>1", [("user", "When is the city museum open?")], [("doc-museum", MUSEUM)], MUSEUM),
    task("bitcoin<::>2", [("user", "When is the city museum open?"), ("agent", MUSEUM),
                          ("user", "Can I pay the entrance fee with bitcoin?")], [],
         "I'm sorry, the documents do not mention paying the entrance fee with bitcoin.", "UNANSWERABLE"),
    task("vague<::>1", [("user", "And the other one?")], [("doc-museum", MUSEUM)], MUSEUM, "UNDERSPECIFIED"),
]


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FLYWHEEL_LLM_PROVIDER", "offline")
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def run_json(*args: str) -> dict:
    result = runner.invoke(app, ["eval", *args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_eval_detects_and_fixes_every_gap_and_never_passes_the_unanswerable(env: Path) -> None:
    report = run_json("--data", str(write(env / "reference.jsonl", TASKS)))
    assert report["provider"] == "offline"
    assert (report["tasks_in_file"], report["tasks_selected"], report["kb_articles"]) == (5, 5, 4)
    assert report["answerable_evaluated"] == 3
    assert report["gaps_detected"] == 3 and report["before"] == {"fail": 3}
    assert report["gaps_fixed"] == 3 and report["after"] == {"pass": 3}
    assert report["reference_passed"] == 3 and report["judge_agreement"] == 1.0
    assert report["unanswerable_evaluated"] == 1 and report["declined"] == 1
    assert report["false_pass"] == 0 and report["made_up_false_pass"] == 0
    assert report["skipped"] == {"UNDERSPECIFIED": 1}
    loop = report["loop"]
    assert loop["turns"] == 3 and loop["verdicts"] == ["pass", "pass", "pass"]
    assert 0 < loop["llm_seconds"] <= loop["seconds"] and loop["llm_calls"] >= 4
    assert set(loop["steps"]) == {"flag", "outline", "draft", "publish+verdict"}
    assert {r["task_id"] for r in report["results"]} == {"refund<::>1", "passport<::>3", "museum<::>1",
                                                        "bitcoin<::>2"}


def test_tasks_file_evaluates_only_those_ids(env: Path) -> None:
    data = write(env / "reference.jsonl", TASKS)
    ids = env / "ids.txt"
    ids.write_text("# a subset\npassport<::>3\n\nbitcoin<::>2\n", encoding="utf-8")
    report = run_json("--data", str(data), "--tasks", str(ids))
    assert report["tasks_selected"] == 2 and report["kb_articles"] == 2
    assert [r["task_id"] for r in report["results"]] == ["passport<::>3", "bitcoin<::>2"]
    assert (report["gaps_detected"], report["gaps_fixed"], report["false_pass"]) == (1, 1, 0)
    assert run_json("--data", str(data), "--limit", "1")["tasks_selected"] == 1


def test_default_output_is_a_table(env: Path) -> None:
    result = runner.invoke(app, ["eval", "--data", str(write(env / "r.jsonl", TASKS[:1]))], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "gaps detected" in result.output and "1/1 (100.0%)" in result.output


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ([json.dumps(TASKS[0]), "{not json"], "line 2: invalid JSON"),
        ([json.dumps({**TASKS[0], "targets": []})], "targets[0].text"),
        ([json.dumps({**TASKS[0], "input": [{"speaker": "agent", "text": "Hi"}]})], "last turn"),
        ([json.dumps(TASKS[0]), json.dumps(TASKS[0])], "appears twice"),
    ],
)
def test_bad_data_file_is_a_clear_error(env: Path, lines: list[str], expected: str) -> None:
    bad = env / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["eval", "--data", str(bad), "--json"])
    assert result.exit_code == 2
    assert expected in " ".join(result.output.split()) and "Traceback" not in result.output


def test_missing_file_or_unknown_task_id_is_a_clear_error(env: Path) -> None:
    result = runner.invoke(app, ["eval", "--data", str(env / "nope.jsonl")])
    assert result.exit_code == 2 and "File not found" in result.output
    ids = env / "ids.txt"
    ids.write_text("no-such-task\n", encoding="utf-8")
    result = runner.invoke(app, ["eval", "--data", str(write(env / "r.jsonl", TASKS)), "--tasks", str(ids)])
    assert result.exit_code == 2 and "not in the data file" in result.output
