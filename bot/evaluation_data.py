"""MTRAG-format evaluation tasks: reading, validating and selecting them, and shaping them for the loop.

One task a line (`reference.jsonl` of IBM's MTRAG / MTRAG-UN): `task_id`, `input` (the conversation so far,
turns with `speaker` user/agent and `text`, ending with the user's question), `contexts` (gold passages with
`document_id`, `text` and an optional `title`), `targets[0].text` (the reference answer), `answerability`
(ANSWERABLE, UNANSWERABLE, PARTIAL or UNDERSPECIFIED; a string or a one-element list) and `Collection`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.errors import InvalidInput
from bot.text import sentences, shorten

ANSWERABLE, UNANSWERABLE = "ANSWERABLE", "UNANSWERABLE"
# The agent's answer stored before the handover: the gap as a reviewer would see it.
DONT_KNOW = "I'm sorry, I don't have information about that. Let me connect you with a teammate."
SOURCE = "mtrag-eval"


@dataclass(frozen=True)
class Passage:
    doc_id: str
    title: str
    text: str


@dataclass(frozen=True)
class EvalTask:
    task_id: str
    answerability: str
    collection: str
    turns: tuple[tuple[str, str], ...]  # (speaker, text), the last one the user's question
    passages: tuple[Passage, ...]
    reference: str  # targets[0].text: the reference agent answer

    @property
    def question(self) -> str:
        return self.turns[-1][1]


def passage_title(p: Passage) -> str:
    """The passage's own title, else its first sentence (MTRAG passages often have none)."""
    return p.title or shorten((sentences(p.text) or [p.doc_id])[0], 80)


def article_from(passages: Sequence[Passage]) -> tuple[str, str]:
    """(title, body) of the article a teammate would write from these passages."""
    return passage_title(passages[0]), "\n\n".join(p.text.strip() for p in passages)


def _bad(line: int, why: str) -> InvalidInput:
    return InvalidInput(f"line {line}: {why}. Each line must be one MTRAG task (task_id, input, contexts, "
                        "targets, answerability).")


def _text(value: Any) -> str | None:
    return " ".join(value.split()) if isinstance(value, str) and value.strip() else None


def _task(line: int, row: Any) -> EvalTask:
    if not isinstance(row, dict):
        raise _bad(line, "not a JSON object")
    task_id = row.get("task_id")
    if not isinstance(task_id, str) or not task_id.strip():
        raise _bad(line, '"task_id" must be a non-empty string')
    turns_raw = row.get("input")
    if not isinstance(turns_raw, list) or not turns_raw:
        raise _bad(line, '"input" must be a non-empty list of turns')
    turns = []
    for i, turn in enumerate(turns_raw, 1):
        speaker = turn.get("speaker") if isinstance(turn, dict) else None
        text = _text(turn.get("text")) if isinstance(turn, dict) else None
        if speaker not in ("user", "agent") or text is None:
            raise _bad(line, f'turn {i} needs "speaker" user or agent and a non-empty "text"')
        turns.append((speaker, text))
    if turns[-1][0] != "user":
        raise _bad(line, "the last turn of \"input\" must be the user's question")
    contexts = row.get("contexts") or []
    if not isinstance(contexts, list):
        raise _bad(line, '"contexts" must be a list of passages')
    passages = []
    for c in contexts:
        if not isinstance(c, dict) or not isinstance(c.get("document_id"), str | int) or not _text(c.get("text")):
            raise _bad(line, 'each passage in "contexts" needs "document_id" and a non-empty "text"')
        passages.append(Passage(str(c["document_id"]), _text(c.get("title")) or "", str(c["text"]).strip()))
    targets = row.get("targets")
    reference = _text(targets[0].get("text")) if isinstance(targets, list) and targets and isinstance(
        targets[0], dict) else None
    if reference is None:
        raise _bad(line, '"targets" must hold the reference answer as targets[0].text')
    answerability = row.get("answerability")
    if isinstance(answerability, list):
        answerability = answerability[0] if answerability else None
    if not isinstance(answerability, str) or not answerability.strip():
        raise _bad(line, '"answerability" must be ANSWERABLE, UNANSWERABLE, PARTIAL or UNDERSPECIFIED')
    return EvalTask(task_id.strip(), answerability.strip().upper(), str(row.get("Collection") or ""),
                    tuple(turns), tuple(passages), reference)


def load_tasks(path: Path) -> list[EvalTask]:
    """Every task of the file; raises InvalidInput naming the first bad line."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"File not found: {path}")
    tasks: list[EvalTask] = []
    seen: set[str] = set()
    with path.open(encoding="utf-8") as f:
        for line_no, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            try:
                row = json.loads(raw)
            except ValueError as e:
                raise _bad(line_no, f"invalid JSON ({e})") from None
            task = _task(line_no, row)
            if task.task_id in seen:
                raise _bad(line_no, f"task_id {task.task_id!r} appears twice")
            seen.add(task.task_id)
            tasks.append(task)
    if not tasks:
        raise InvalidInput(f"{path} holds no tasks.")
    return tasks


def read_task_ids(path: Path) -> list[str]:
    """One task_id a line (blank lines and lines starting with # are ignored)."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"Task list not found: {path}")
    ids = [s.strip() for s in path.read_text(encoding="utf-8").splitlines()]
    return [s for s in ids if s and not s.startswith("#")]


def select_tasks(tasks: Sequence[EvalTask], ids: Sequence[str] | None, limit: int | None) -> list[EvalTask]:
    chosen = list(tasks)
    if ids is not None:
        known = {t.task_id for t in tasks}
        if missing := [i for i in ids if i not in known]:
            raise InvalidInput(f"{len(missing)} task id(s) are not in the data file, e.g. {missing[0]!r}.")
        wanted = set(ids)
        chosen = [t for t in tasks if t.task_id in wanted]
    return chosen[:limit] if limit is not None else chosen


def to_conversation(task: EvalTask) -> dict[str, Any]:
    """The task as a stored conversation (the importer's JSONL shape). An answerable task becomes the
    documented gap: the agent said it does not know and a teammate answered after the handover; the
    reference answer stands in for the teammate's knowledge. Any other task ends with the reference answer."""
    messages = [{"role": s, "text": t} for s, t in task.turns]
    if task.answerability == ANSWERABLE:
        messages += [{"role": "agent", "text": DONT_KNOW}, {"role": "human", "text": task.reference}]
    else:
        messages.append({"role": "agent", "text": task.reference})
    return {"id": task.task_id, "source": SOURCE, "metadata": {"collection": task.collection}, "messages": messages}
