"""Helpers for builder tests: serialise through `.to_dict()` (which runs slack_sdk's validators),
then check with the independent rules the mock server uses."""

from __future__ import annotations

from typing import Any

from tests.support.block_rules import message_problems, view_problems


def message_dict(msg: Any) -> dict[str, Any]:
    d = msg.to_dict()
    problems = message_problems(d["blocks"])
    assert not problems, problems
    assert d["text"] and len(d["text"]) <= 4000
    return d


def view_dict(view: Any) -> dict[str, Any]:
    d = view.to_dict()
    problems = view_problems(d)
    assert not problems, problems
    return d


def texts(obj: Any) -> list[str]:
    """Every "text" string in a Block Kit structure, in order."""
    out: list[str] = []
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key == "text" and isinstance(value, str):
                out.append(value)
            else:
                out += texts(value)
    elif isinstance(obj, list):
        for item in obj:
            out += texts(item)
    return out


def mrkdwn_texts(obj: Any) -> str:
    """Only what Slack parses for mentions/links: mrkdwn text objects and the top-level `text`.
    (plain_text labels are shown literally, so `<!here>` there is inert.)"""
    out: list[str] = []
    if isinstance(obj, dict):
        if obj.get("type") == "mrkdwn" or ("blocks" in obj and isinstance(obj.get("text"), str)):
            out.append(obj["text"])
        for key, value in obj.items():
            if key != "text" or not isinstance(value, str):
                out.append(mrkdwn_texts(value))
    elif isinstance(obj, list):
        out += [mrkdwn_texts(item) for item in obj]
    return "\n".join(t for t in out if t)


def all_text(obj: Any) -> str:
    return "\n".join(texts(obj))


def elements(d: dict[str, Any]) -> list[dict[str, Any]]:
    """Every interactive element (actions elements and section accessories)."""
    out = []
    for block in d.get("blocks", []):
        if block["type"] == "actions":
            out += block["elements"]
        if "accessory" in block:
            out.append(block["accessory"])
    return out


def by_action(d: dict[str, Any], action_id: str) -> dict[str, Any]:
    found = [e for e in elements(d) if e.get("action_id") == action_id]
    assert found, f"no element with action_id {action_id!r}"
    return found[0]


def action_ids(d: dict[str, Any]) -> list[str]:
    return [e.get("action_id") for e in elements(d)]
